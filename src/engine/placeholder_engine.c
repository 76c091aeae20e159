/* placeholder */ typedef int mz_engine_placeholder;
