/*
 * endpoints.h - /health, /metrics and /metrics/prometheus (endpoints.c).
 */
#ifndef COUP_ENDPOINTS_H
#define COUP_ENDPOINTS_H

struct gateway;

void	endpoints_register(struct gateway *);

#endif
