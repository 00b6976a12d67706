/* Helpers shared by the unit tests: throwaway directories. */
#ifndef BACKUPD_TESTS_TESTUTIL_H
#define BACKUPD_TESTS_TESTUTIL_H

/*
 * Removes a directory tree, restoring write permission on the way so that
 * tests that make directories read-only still clean up.
 */
void test_rm_rf(const char *dir);

#endif
