#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "engines/restore_claim.h"

/*
 * A scripted lock holder: each try reads the next letter of the script,
 * B busy, I idle, G got it; past the end the last letter repeats.
 */
typedef struct script {
	const char *s;
	int tries;
} script;

static int scripted_try(void *ctx, int *got, int *busy, bderr *err)
{
	(void)err;
	script *sc = ctx;
	size_t n = strlen(sc->s);
	char c = sc->s[(size_t)sc->tries < n ? (size_t)sc->tries : n - 1];
	sc->tries++;
	*got = c == 'G';
	*busy = c == 'B';
	return 0;
}

static int claim(script *sc, bderr *e)
{
	bderr_init(e);
	return restore_claim_wait_ms(scripted_try, sc, "rst", "backupd_restore_x", 0, e);
}

static void test_claim(void **state)
{
	(void)state;
	bderr e;
	/* free at once */
	script a = { "G", 0 };
	assert_int_equal(claim(&a, &e), 0);
	assert_int_equal(a.tries, 1);
	/* idle, never seen busy: a live restore between statements, refused after 5 more polls */
	script b = { "I", 0 };
	assert_int_equal(claim(&b, &e), -1);
	assert_int_equal(b.tries, 6);
	assert_non_null(strstr(e.msg, "another restore --create into 'rst' is in progress"));
	/* idle, then free: a killed restorer's session that had not yet ended */
	script b2 = { "IIG", 0 };
	assert_int_equal(claim(&b2, &e), 0);
	assert_int_equal(b2.tries, 3);
	/* busy, then idle for a moment while its session ends, then free: ours */
	script c = { "BBBIIIG", 0 };
	assert_int_equal(claim(&c, &e), 0);
	assert_int_equal(c.tries, 7);
	/* busy, then idle for good: refused once the grace (30 polls) is over */
	script d = { "BBI", 0 };
	assert_int_equal(claim(&d, &e), -1);
	assert_int_equal(d.tries, 2 + 31);
	/* busy again within the grace starts it over */
	script f = { "BIIIIIIIIIIIIIIIIIIIIIIIIIIIIIBIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIG", 0 };
	assert_int_equal(claim(&f, &e), 0);
	/* busy for good: refused after the 30 s limit (300 polls) */
	script g = { "B", 0 };
	assert_int_equal(claim(&g, &e), -1);
	assert_int_equal(g.tries, 301);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claim),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
