/*
 * demo.h - the demo page at /demo (DEMO, DEMO_DIR; demo.c).
 */
#ifndef COUP_DEMO_H
#define COUP_DEMO_H

struct gateway;

/* Known before the HTTP server starts: the page's WebSocket comes from our
 * own origin, which must then be allowed. */
int	demo_enabled(const struct gateway *);
void	demo_register(struct gateway *);
void	demo_free(void);

#endif
