/* placeholder */ typedef int mz_cli_placeholder;
