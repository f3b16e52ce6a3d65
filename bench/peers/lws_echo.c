/*
 * An echo server on libwebsockets (Debian's libwebsockets-dev), as a user would write one, for
 * syncws-bench (kind `libwebsockets`): one service thread, lws's own event loop, every message
 * sent back whole as it came. permessage-deflate is offered through lws's built-in extension
 * (lws_extension_callback_pm_deflate) with its default options. Prints `listening ADDR
 * VERSION`, echoes on any path, and exits when stdin closes.
 *
 * Built by syncws-bench: cc -O2 lws_echo.c $(pkg-config --cflags --libs libwebsockets)
 */
#include <libwebsockets.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One message waiting to be sent, with lws's LWS_PRE bytes of headroom before it. */
struct queued {
	struct queued *next;
	size_t len;
	int binary;
	unsigned char data[];
};

/* A connection: the message being received, and the echoes not yet written. */
struct session {
	unsigned char *in;
	size_t in_len, in_cap;
	int in_binary;
	struct queued *head, *tail;
};

/* Appends `len` bytes to the message being received; -1 if memory runs out. */
static int append(struct session *s, const void *data, size_t len)
{
	if (s->in_len + len > s->in_cap) {
		size_t cap = s->in_cap ? s->in_cap : 1024;
		while (cap < s->in_len + len)
			cap *= 2;
		unsigned char *grown = realloc(s->in, cap);
		if (!grown)
			return -1;
		s->in = grown;
		s->in_cap = cap;
	}
	memcpy(s->in + s->in_len, data, len);
	s->in_len += len;
	return 0;
}

/* Moves the received message to the send queue; -1 if memory runs out. */
static int enqueue(struct session *s)
{
	struct queued *q = malloc(sizeof(*q) + LWS_PRE + s->in_len);
	if (!q)
		return -1;
	q->next = NULL;
	q->len = s->in_len;
	q->binary = s->in_binary;
	memcpy(q->data + LWS_PRE, s->in, s->in_len);
	if (s->tail)
		s->tail->next = q;
	else
		s->head = q;
	s->tail = q;
	s->in_len = 0;
	return 0;
}

/* Frees what a closed connection still holds. */
static void release(struct session *s)
{
	while (s->head) {
		struct queued *next = s->head->next;
		free(s->head);
		s->head = next;
	}
	s->tail = NULL;
	free(s->in);
	s->in = NULL;
	s->in_len = s->in_cap = 0;
}

/* The echo protocol: also lws's default for connections that name none. */
static int echo(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct session *s = user;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		memset(s, 0, sizeof(*s));
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (lws_is_first_fragment(wsi))
			s->in_binary = lws_frame_is_binary(wsi);
		if (append(s, in, len))
			return -1;
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			if (enqueue(s))
				return -1;
			lws_callback_on_writable(wsi);
		}
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE: {
		struct queued *q = s->head;
		if (!q)
			return 0;
		enum lws_write_protocol kind = q->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT;
		if (lws_write(wsi, q->data + LWS_PRE, q->len, kind) < (int)q->len)
			return -1;
		s->head = q->next;
		if (!s->head)
			s->tail = NULL;
		free(q);
		if (s->head)
			lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_CLOSED:
		release(s);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
	{ "echo", echo, sizeof(struct session), 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static const struct lws_extension extensions[] = {
	{ "permessage-deflate", lws_extension_callback_pm_deflate, "permessage-deflate" },
	{ NULL, NULL, NULL },
};

/* Ends the process when the parent closes our stdin. */
static void *watch_stdin(void *unused)
{
	char buf[256];
	(void)unused;
	while (read(0, buf, sizeof(buf)) > 0)
		;
	_exit(0);
	return NULL;
}

int main(void)
{
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = 0;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.extensions = extensions;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;

	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context *context = lws_create_context(&info);
	if (!context) {
		fprintf(stderr, "lws_echo: lws_create_context failed\n");
		return 1;
	}
	struct lws_vhost *vhost = lws_get_vhost_by_name(context, "default");
	if (!vhost) {
		fprintf(stderr, "lws_echo: no default vhost\n");
		return 1;
	}
	pthread_t watcher;
	if (pthread_create(&watcher, NULL, watch_stdin, NULL)) {
		fprintf(stderr, "lws_echo: pthread_create failed\n");
		return 1;
	}
	printf("listening 127.0.0.1:%d libwebsockets %s\n", lws_get_vhost_listen_port(vhost),
	       lws_get_library_version());
	fflush(stdout);
	while (lws_service(context, 0) >= 0)
		;
	lws_context_destroy(context);
	return 0;
}
