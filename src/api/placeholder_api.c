/* placeholder */ typedef int mz_api_placeholder;
