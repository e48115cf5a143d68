/*
 * namespace.h - the CoUp namespace "/": connect, event, disconnect
 * (namespace.c).
 */
#ifndef COUP_NAMESPACE_H
#define COUP_NAMESPACE_H

struct gateway;

void	namespace_register(struct gateway *);

#endif
