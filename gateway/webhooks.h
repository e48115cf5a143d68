/*
 * webhooks.h - signed POSTs to the CoUp app of what happened in the calls
 * and studies (webhooks.c); started from main.c when WEBHOOK_URL is set.
 */
#ifndef COUP_WEBHOOKS_H
#define COUP_WEBHOOKS_H

#include <stddef.h>

struct gateway;

struct webhook_stats {
	unsigned long long	 queued;	/* events made */
	unsigned long long	 sent;		/* taken by the app (2xx) */
	unsigned long long	 failures;	/* attempts it did not take */
	unsigned long long	 dropped;	/* oldest, the queue full */
};

void	webhooks_start(struct gateway *);
/* NULL when webhooks are off. */
const struct webhook_stats *webhooks_stats(void);
size_t	webhooks_waiting(void);
void	webhooks_stop(void);

#endif
