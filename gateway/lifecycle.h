/*
 * lifecycle.h - what changes a running gateway as a whole: a reload of the
 * configuration (SIGHUP, coupctl reload) and a drain (SIGTERM, coupctl
 * drain).
 */
#ifndef COUP_LIFECYCLE_H
#define COUP_LIFECYCLE_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct config;
struct coupapi_opts;
struct gateway;

/*
 * Re-read the configuration and apply what may change at run time.
 * changed and restart (JSON arrays, may be NULL) get the keys applied and
 * the keys that need a restart.  -1 with err set if the new configuration
 * is invalid (nothing is applied).
 */
int	gateway_reload(struct gateway *, cJSON *changed, cJSON *restart,
	    char *err, size_t errlen);
/* Stop taking clients, let everyone go, exit within DRAIN_TIMEOUT_MS. */
void	gateway_drain(struct gateway *, const char *why);
/* The CoUp API client's options, from the configuration. */
void	gateway_api_opts(const struct config *, struct coupapi_opts *);

#endif
