/* Loading a client library on first use: see lazylib.h for why. */
#include "common/lazylib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

/* Serialises first loads; a process loads at most four libraries, once each. */
static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;

static int open_lib(lazylib *lib)
{
	void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *why = dlerror();
		snprintf(lib->error, sizeof lib->error,
			 "cannot load the client library %s (install the Debian package %s): %s", lib->soname,
			 lib->package, why ? why : "dlopen failed");
		return -1;
	}
	for (size_t i = 0; i < lib->nsyms; i++) {
		dlerror();
		void *p = dlsym(h, lib->syms[i].name);
		if (p == NULL) {
			snprintf(lib->error, sizeof lib->error,
				 "the client library %s has no function %s (the Debian package %s is older than "
				 "the one backupd was built with)",
				 lib->soname, lib->syms[i].name, lib->package);
			for (size_t j = 0; j < i; j++)
				*lib->syms[j].slot = NULL;
			dlclose(h);
			return -1;
		}
		*lib->syms[i].slot = p;
	}
	/* never closed: the stubs keep calling into it until the process ends */
	return 1;
}

int lazylib_load(lazylib *lib, bderr *err)
{
	int st = __atomic_load_n(&lib->state, __ATOMIC_ACQUIRE);
	if (st == 0) {
		pthread_mutex_lock(&load_mu);
		st = __atomic_load_n(&lib->state, __ATOMIC_RELAXED);
		if (st == 0) {
			st = open_lib(lib);
			__atomic_store_n(&lib->state, st, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&load_mu);
	}
	if (st > 0)
		return 0;
	if (err)
		bderr_set(err, "%s", lib->error);
	return -1;
}

const char *lazylib_error(const lazylib *lib)
{
	return __atomic_load_n(&lib->state, __ATOMIC_ACQUIRE) < 0 ? lib->error : "";
}
