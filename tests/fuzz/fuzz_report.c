/*
 * fuzz_report.c - libFuzzer target over parse + classify, and the VERP
 * tags read from the addresses the message names.
 *
 * Every input is a message from a hostile sender: it must give a report
 * and verdicts, never a crash, a leak, undefined behaviour or unbounded
 * memory. Built with ./configure CC=clang --enable-fuzz; `make fuzz`.
 * Each crash found becomes a file in tests/fuzz/cases/, replayed by
 * tests/test_fuzz_cases.c in every `make check`.
 */
#include <stddef.h>
#include <stdint.h>

#include "classify.h"
#include "report.h"
#include "verp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report *r = report_parse((const char *)data, size, size & 1);
	struct verdict v;
	size_t i;

	if (r->nrcpt == 0)
		classify_message(r, &v);
	for (i = 0; i < r->nrcpt; i++)
		classify_rcpt(r, i, &v);
	for (i = 0; i < r->ntag_addrs; i++) {
		struct verp_tag t;

		if (verp_parse(r->tag_addrs[i], "bounces@platform.example",
		    &t) == 1)
			(void)verp_verify(&t, r->tag_addrs[i], "key", 3);
	}
	report_free(&r);
	return 0;
}
