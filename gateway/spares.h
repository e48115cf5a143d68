/*
 * spares.h - room processes started ahead of need (ROOM_SPARES; spares.c).
 */
#ifndef COUP_SPARES_H
#define COUP_SPARES_H

struct supervisor;

/* Keep n processes started ahead of need; then, when it changes (0 while
 * draining), grow or shrink the pool. */
void	spares_attach(struct supervisor *, unsigned n);
void	supervisor_set_spares(struct supervisor *, unsigned);

#endif
