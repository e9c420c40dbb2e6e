// err.c -- the text behind each mpb_err, expanded from MPB_ERR_MAP.

#include <stddef.h>

#include "mpb_err.h"

typedef struct err_entry {
	mpb_err     code;
	const char *name;
	const char *text;
} err_entry;

static const err_entry err_table[] = {
#define ERR_ENTRY_(name, num, text) { MPB_##name, #name, text },
	MPB_ERR_MAP(ERR_ENTRY_)
#undef ERR_ENTRY_
};

static const err_entry *
err_find(mpb_err err)
{
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++) {
		if (err_table[i].code == err) {
			return (&err_table[i]);
		}
	}
	return (NULL);
}

const char *
mpb_strerror(mpb_err err)
{
	const err_entry *e = err_find(err);

	return (e != NULL ? e->text : "unknown error");
}

const char *
mpb_errname(mpb_err err)
{
	const err_entry *e = err_find(err);

	return (e != NULL ? e->name : "EUNKNOWN");
}
