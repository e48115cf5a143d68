/*
 * timestamp.h - wall-clock and monotonic time in the forms CoUp uses.
 *
 * The Node.js server stamped events and log lines with
 * Date.prototype.toISOString(), and clients still compare those strings, so
 * timestamp_iso() produces exactly that format: "2026-11-26T00:31:02.123Z".
 * Timers and durations use the monotonic clock, which does not jump when the
 * wall clock is set.
 */
#ifndef COUP_TIMESTAMP_H
#define COUP_TIMESTAMP_H

/* Room for the longest form, "+275760-09-13T00:00:00.000Z", and the NUL. */
#define TIMESTAMP_ISO_LEN 32

/* The current UTC time as toISOString() would print it. */
void		timestamp_iso(char out[TIMESTAMP_ISO_LEN]);
/*
 * Milliseconds since the Unix epoch as toISOString() would print them.
 * Years outside 0000..9999 get a sign and six digits, as in JavaScript;
 * values beyond JavaScript's Date range (+-8.64e15 ms) are clamped to it.
 */
void		timestamp_iso_from_ms(char out[TIMESTAMP_ISO_LEN],
		    long long epoch_ms);
/* Milliseconds since the Unix epoch (CLOCK_REALTIME), like Date.now(). */
long long	timestamp_now_ms(void);
/* Seconds on CLOCK_MONOTONIC, for measuring intervals. */
double		timestamp_mono(void);

#endif
