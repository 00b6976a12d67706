#ifndef BACKUPD_COMMON_VERSION_H
#define BACKUPD_COMMON_VERSION_H
/* PACKAGE_VERSION comes from configure.ac through the compiler's -D flags. */
#define BACKUPD_VERSION PACKAGE_VERSION
#endif
