// dict_list_it.h -- what test_dict_it.c and test_list_it.c share: one
// broker and one client per test program, error asserts that show the
// broker's message, and msgpack integers in small buffers.  Include it
// once, after cmocka.h.

#ifndef MPBT_DICT_LIST_IT_H
#define MPBT_DICT_LIST_IT_H

#include <string.h>

#include <msgpack.h>

#include "enc_it.h"
#include "harness.h"
#include "mpb.h"

static mpbt_broker broker;
static mpb_client *cl;


static int
group_setup(void **state)
{
	(void) state;
	if (!mpbt_broker_start(&broker, NULL)) {
		return (-1);
	}
	return (mpb_connect(broker.url, 5000, &cl) == MPB_OK ? 0 : -1);
}

static int
group_teardown(void **state)
{
	(void) state;
	mpb_close(cl);
	return (mpbt_broker_stop(&broker) == 0 ? 0 : -1);
}

// object.list must show name once, with class (and kind) cls and size.
static void
expect_listed(const char *name, const char *cls, uint64_t size)
{
	mpb_object_info *objs;
	size_t           n, seen = 0;

	assert_int_equal(mpb_object_list(cl, &objs, &n), MPB_OK);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(objs[i].name, name) == 0) {
			assert_string_equal(objs[i].class_name, cls);
			assert_string_equal(objs[i].kind, cls);
			assert_int_equal(objs[i].size, size);
			seen++;
		}
	}
	assert_int_equal(seen, 1);
	mpb_object_list_free(objs, n);
}

#endif // MPBT_DICT_LIST_IT_H
