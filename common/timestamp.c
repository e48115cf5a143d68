/*
 * timestamp.c - wall-clock and monotonic time in the forms CoUp uses.
 *
 * See timestamp.h.  The ISO form must match JavaScript's toISOString()
 * byte for byte, including the milliseconds and the "Z", because browsers
 * written against the Node.js server parse and compare these strings.
 */
#include <string.h>
#include <time.h>

#include "timestamp.h"

/* The range of a JavaScript Date: 100,000,000 days either side of 1970. */
#define JS_DATE_MAX_MS 8640000000000000LL

/* Write `value` (not negative) as exactly `width` decimal digits. */
static char *
put_digits(char *p, unsigned value, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + value % 10);
		value /= 10;
	}
	return p + width;
}

void
timestamp_iso_from_ms(char out[TIMESTAMP_ISO_LEN], long long epoch_ms)
{
	struct tm tm;
	time_t secs;
	long long ms;
	char *p = out;
	int year;

	if (epoch_ms > JS_DATE_MAX_MS)
		epoch_ms = JS_DATE_MAX_MS;
	if (epoch_ms < -JS_DATE_MAX_MS)
		epoch_ms = -JS_DATE_MAX_MS;

	/*
	 * Floor division: -1 ms is 23:59:59.999 of the day before, not
	 * 00:00:00.-001, so the millisecond part must never be negative.
	 */
	ms = epoch_ms % 1000;
	secs = (time_t)(epoch_ms / 1000);
	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	if (gmtime_r(&secs, &tm) == NULL) {
		/* Cannot happen within the clamped range on 64-bit time_t. */
		memcpy(out, "1970-01-01T00:00:00.000Z", 25);
		return;
	}

	/*
	 * Digits are written by hand rather than with snprintf so the length
	 * is evident (and GCC's -Wformat-truncation agrees): at most
	 * 1 + 6 + 20 characters plus the NUL.
	 */
	year = tm.tm_year + 1900;
	if (year >= 0 && year <= 9999)
		p = put_digits(p, (unsigned)year, 4);
	else {
		/* JavaScript's expanded years: "+010000", "-000001". */
		*p++ = year < 0 ? '-' : '+';
		p = put_digits(p, (unsigned)(year < 0 ? -year : year), 6);
	}
	*p++ = '-';
	p = put_digits(p, (unsigned)tm.tm_mon + 1, 2);
	*p++ = '-';
	p = put_digits(p, (unsigned)tm.tm_mday, 2);
	*p++ = 'T';
	p = put_digits(p, (unsigned)tm.tm_hour, 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)tm.tm_min, 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)tm.tm_sec, 2);
	*p++ = '.';
	p = put_digits(p, (unsigned)ms, 3);
	*p++ = 'Z';
	*p = '\0';
}

long long
timestamp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
timestamp_iso(char out[TIMESTAMP_ISO_LEN])
{
	timestamp_iso_from_ms(out, timestamp_now_ms());
}

double
timestamp_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
