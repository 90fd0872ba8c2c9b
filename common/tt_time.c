/* tt_time.c - see tt_time.h. */
#include "tt_time.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t
tt_time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
tt_time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes v as n decimal digits (zero-padded) at p. */
static void
put_digits(char *p, unsigned v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* The proleptic Gregorian date of day z (0 = 1970-01-01), the inverse
 * of days_from_civil below. */
static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* Formatted by hand: this runs for every line written, and snprintf
 * with gmtime_r was a few percent of a whole decode. */
void
tt_time_format_iso(int64_t ms, char buf[TT_TIME_ISO_LEN])
{
	int64_t secs = ms / 1000, days, y;
	int frac = (int)(ms % 1000);
	unsigned mo, d, sod;

	if (frac < 0) {
		frac += 1000;
		secs -= 1;
	}
	days = secs / 86400;
	if (secs % 86400 < 0)
		days -= 1;
	sod = (unsigned)(secs - days * 86400);
	civil_from_days(days, &y, &mo, &d);
	if (y < 0 || y > 9999) { /* gmtime_r's text, as ever, for the odd year */
		time_t t = (time_t)secs;
		struct tm tm;
		char tmp[64];

		gmtime_r(&t, &tm);
		snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		    (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
		    tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
		memcpy(buf, tmp, TT_TIME_ISO_LEN - 1);
		buf[TT_TIME_ISO_LEN - 1] = '\0';
		return;
	}
	put_digits(buf, (unsigned)y, 4);
	buf[4] = '-';
	put_digits(buf + 5, mo, 2);
	buf[7] = '-';
	put_digits(buf + 8, d, 2);
	buf[10] = 'T';
	put_digits(buf + 11, sod / 3600, 2);
	buf[13] = ':';
	put_digits(buf + 14, sod / 60 % 60, 2);
	buf[16] = ':';
	put_digits(buf + 17, sod % 60, 2);
	buf[19] = '.';
	put_digits(buf + 20, (unsigned)frac, 3);
	buf[23] = 'Z';
	buf[24] = '\0';
}

void
tt_time_now_iso(char buf[TT_TIME_ISO_LEN])
{
	tt_time_format_iso(tt_time_now_ms(), buf);
}

/* Reads n decimal digits at s into *out; false if any is not a digit. */
static bool
digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool
leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

bool
tt_time_parse_iso(const char *s, size_t len, int64_t *ms)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, frac_ms = 0;
	size_t i = 19;
	int64_t t;

	if (len < 20)
		return false;
	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) ||
	    s[16] != ':' || !digits(s + 17, 2, &sec))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
		return false;
	if (d > mdays[mo - 1] + (mo == 2 && leap_year(y)))
		return false;
	if (s[i] == '.') {
		size_t start = ++i;
		int scale = 100;

		while (i < len && s[i] >= '0' && s[i] <= '9') {
			frac_ms += (s[i] - '0') * scale;
			scale /= 10;
			i++;
		}
		if (i == start)
			return false;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		if (len - i < 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return false;
		if (s[i] == '-') {
			oh = -oh;
			om = -om;
		}
		i += 6;
	} else {
		return false;
	}
	if (i != len)
		return false;
	/* A leap second exists only at 23:59:60 UTC. */
	if (sec == 60 && (((h * 60 + mi - (oh * 60 + om)) % 1440 + 1440) % 1440) != 23 * 60 + 59)
		return false;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= oh * 3600 + om * 60;
	*ms = t * 1000 + frac_ms;
	return true;
}

bool
tt_time_valid_iso(const char *s, size_t len)
{
	int64_t ms;

	return tt_time_parse_iso(s, len, &ms);
}
