/* dbrestore's command table, for option_tables_test: its main() renamed away. */
int dbrestore_program_main(int argc, char **argv);
#define main dbrestore_program_main
#include "restore/main.c"
