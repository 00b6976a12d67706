/* backupd's command table, for option_tables_test: its main() renamed away. */
int backupd_program_main(int argc, char **argv);
#define main backupd_program_main
#include "backupd/main.c"
