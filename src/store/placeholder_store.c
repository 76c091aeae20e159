/* placeholder */ typedef int mz_store_placeholder;
