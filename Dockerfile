# Dockerfile - the CoUp signaling server in a container.
#
# The first stage builds and installs the tree on Debian 12 as .ci/run
# does, without the tests; the second keeps the installed programs and the
# run-time libraries only.  The gateway runs in the foreground as the user
# "coup", logs to stderr and listens on port 4000 of every interface.  Its
# settings come from the environment (see compose.yaml) or from a file
# mounted over /etc/coup-signaling.conf (the environment wins); see
# coup-signaling.conf(5).
#
#   docker build -t coup-signaling .
#   docker run --rm -p 4000:4000 coup-signaling
#   docker exec CONTAINER coupctl status
#
# `docker stop` sends SIGTERM, on which the gateway drains for up to
# DRAIN_TIMEOUT_MS (10 s): give it longer than that (docker stop -t 15,
# stop_grace_period in compose.yaml) before SIGKILL.

FROM debian:12 AS build
# The build packages of install-deps.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	build-essential autoconf automake libtool pkg-config \
	libwebsockets-dev libwebsockets-evlib-ev libev-dev libcjson-dev \
	libcurl4-openssl-dev libhiredis-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN autoreconf -fi \
 && ./configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
 && make -j"$(nproc)" \
 && make install DESTDIR=/stage

FROM debian:12-slim
# The run-time libraries (libwebsockets loads its libev glue, from
# libwebsockets-evlib-ev, at run time) and the CAs for an https NEXTJS_URL.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	libwebsockets17 libwebsockets-evlib-ev libev4 libcjson1 libcurl4 \
	libhiredis0.14 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system coup \
 && useradd --system --gid coup --home-dir /nonexistent --no-create-home \
	--shell /usr/sbin/nologin coup \
 && install -d -o coup -g coup -m 0755 /run/coup-signaling
COPY --from=build /stage/usr/sbin/ /usr/sbin/
COPY --from=build /stage/usr/libexec/ /usr/libexec/
COPY --from=build /stage/etc/coup-signaling.conf /etc/coup-signaling.conf
ENV HOST=0.0.0.0
USER coup
EXPOSE 4000
# Answers when the gateway's loop does; coupctl needs no curl.
HEALTHCHECK --interval=30s --timeout=15s CMD ["coupctl", "status"]
ENTRYPOINT ["/usr/sbin/coup-gateway", "--config", "/etc/coup-signaling.conf"]
