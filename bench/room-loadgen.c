/*
 * Room load generator for the cluster benchmarks (built by bench/cluster.ts with `cc -O2`).
 *
 * Speaks Switchboard's command protocol to a rooms service (bench/fixtures/cluster-services):
 * every connection waits for the service's `hello` push (it names the node the connection
 * landed on), sends `room.join`, and counts `room.message` pushes. The publisher is a member
 * too and calls the built-in `room.publish`; each message's data carries a sequence number
 * `q`, which is how deliveries are matched to messages and how resumes are verified.
 * Same machinery as bench/loadgen.c: one epoll loop, non-blocking sockets, frames built and
 * masked once, a hard deadline. Only connects to the host given (the runner passes 127.0.0.1).
 *
 * Modes:
 *   fanout  --pub PORT --subs PORT:N[,PORT:N...] --window W [--size S] [--rate R]
 *           the publisher keeps W messages in flight (with --rate: publishes R messages/s,
 *           never more than W in flight); a message is complete when every subscriber has
 *           it. Deliveries are counted per node (by the node id of `hello`).
 *   resume  --pub PORT --subs PORT:N --resume-port PORT --rate R [--avoid-pub-node]
 *           [--reconnect-delay-ms 250] [--tail-ms 1000]
 *           the publisher publishes R messages/s without pause. After READY the runner kills
 *           the subscribers' node; each subscriber reconnects (to --resume-port) after the
 *           delay and rejoins with `since` = the last position it saw. Measured per
 *           subscriber: its reconnect (connect() of the attempt that worked) to the rejoin
 *           reply. Verified: every subscriber sees every q from its first one to the last
 *           one published, in order (duplicates are counted, gaps are failures).
 *           --avoid-pub-node: subscribers that land on the publisher's node are replaced
 *           (under --workers N all nodes share one port).
 *
 * Common: [--host 127.0.0.1] [--path /bench] [--room r] [--warmup-ms 1000] [--duration-ms 3000]
 *   [--timeout-ms 60000] [--connect-concurrency 256]
 *
 * Protocol with the runner: connect, join, warm-up, print "READY {json}", wait for a stdin
 * line; fanout: measured phase, drain, "DONE {json}"; resume: the loop keeps publishing and
 * receiving while it waits (the runner kills a node, then writes the line), then waits for
 * every subscriber to resume, prints "RESUMED {json}", publishes --tail-ms more, drains,
 * "DONE {json}". Then it waits
 * for a last stdin line (or EOF) and exits. Everything is bounded by --timeout-ms.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { M_FANOUT, M_RESUME };
enum { S_FREE, S_WAIT, S_CONNECTING, S_HS_SENT, S_HELLO, S_JOINING, S_JOINED };

#define MASK0 0x5c
#define MASK1 0x13
#define MASK2 0xa7
#define MASK3 0x41
#define RBUF (256 * 1024)
#define RING 4096
#define HIST_LIN 100000 /* 1 us buckets below 100 ms, then 1 ms buckets */
#define HIST_N (HIST_LIN + 100000)
#define MAX_NODES 16
#define MAX_GROUPS 8

typedef struct hist {
  uint32_t *b;
  uint64_t n, max;
} hist_t;

typedef struct conn {
  int fd, state, is_pub, node, port;
  char hbuf[1024];
  int hlen;
  /* frame parser */
  uint8_t hdr[14];
  int hdr_have, in_payload;
  uint64_t pay_left;
  uint8_t op, fin;
  uint8_t *msg; /* the text message being assembled */
  size_t mlen, mcap;
  uint8_t ctl[125];
  int ctl_len;
  /* output */
  uint8_t *out;
  size_t olen, ocap, ooff;
  /* resume */
  int64_t next_q;  /* next sequence number expected; -1 before the first */
  char pe[64];     /* last position seen: epoch */
  int64_t po;      /*                      offset */
  int has_pos, lost, rejoin_tries, rejoin_due, resumed, gave_up;
  uint64_t t_lost, t_attempt, retry_at;
} conn_t;

/* ---- options ---- */
static int mode = M_FANOUT, pub_port = 0, resume_port = 0, window = 16, fsize = 64, cc_limit = 256, avoid_pub_node = 0;
static int ngroups = 0, group_port[MAX_GROUPS], group_n[MAX_GROUPS];
static const char *host = "127.0.0.1", *path = "/bench", *room = "r";
static long warmup_ms = 1000, duration_ms = 3000, timeout_ms = 60000, reconnect_delay_ms = 250, tail_ms = 1000;
static double rate = 200;
static int paced = 0; /* fanout: --rate given */

/* ---- state ---- */
static int ep, nsubs, nslots;
static conn_t *conns, *pub;
static uint64_t t_deadline, t_read;
static uint8_t rbuf[RBUF];
static char node_ids[MAX_NODES][32];
static int nnodes = 0;
static uint64_t node_subs[MAX_NODES], node_deliv[MAX_NODES];
static int issuing = 0, pending_connects = 0, joined = 0;
static uint64_t errors = 0, failed = 0, rerolled = 0, deliveries = 0, completed = 0, inflight = 0, sent = 0, pongs = 0,
                resets = 0, pub_errors = 0, join_errors = 0, other_msgs = 0, stale = 0, reads = 0;
static hist_t lat; /* fanout: publish to delivery; resume: reconnect to rejoin reply */
static hist_t lost_to_resumed;
/* fanout: per ring slot, which message it holds, when it was sent, how many subscribers have it */
static int64_t ring_q[RING];
static uint64_t ring_t[RING];
static uint32_t ring_cnt[RING];
static int64_t next_pub_q = 0, last_ok_q = -1;
/* resume */
static uint64_t next_pub_at = 0, pub_replies = 0, resumed = 0, rejoin_failed = 0, replayed = 0, replayed_max = 0,
                dups = 0, gaps = 0, reconnect_attempts = 0, reconnect_failures = 0,
                early = 0; /* room messages on a connection whose join was not answered (ok) yet: none may come */
static int reconnecting = 0;
static int scan_due = 0; /* some connection waits for a (re)connect or a rejoin retry */
static char victim[32] = "";

static void arg_err(const char *a) {
  fprintf(stderr, "room-loadgen: bad argument %s\n", a);
  exit(2);
}
static void die(const char *m) {
  fprintf(stderr, "room-loadgen: %s: %s\n", m, strerror(errno));
  exit(2);
}
static uint64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000ull + t.tv_nsec / 1000;
}
static double cpu_s(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}
static void hist_add(hist_t *h, uint64_t us) {
  uint64_t i = us < HIST_LIN ? us : HIST_LIN + (us - HIST_LIN) / 1000;
  if (i >= HIST_N) i = HIST_N - 1;
  h->b[i]++;
  h->n++;
  if (us > h->max) h->max = us;
}
static double hist_pct(const hist_t *h, double p) {
  if (!h->n) return -1;
  uint64_t want = (uint64_t)(p * h->n), acc = 0;
  if (want >= h->n) want = h->n - 1;
  for (int i = 0; i < HIST_N; i++) {
    acc += h->b[i];
    if (acc > want) return i < HIST_LIN ? i : HIST_LIN + (double)(i - HIST_LIN) * 1000;
  }
  return -1;
}
static void hist_clear(hist_t *h) {
  memset(h->b, 0, HIST_N * sizeof *h->b);
  h->n = h->max = 0;
}

/* ---- tiny scanners for the server's JSON (its shape is fixed: JSON.stringify of known objects) ---- */
static const uint8_t *find(const uint8_t *p, const uint8_t *end, const char *s) {
  size_t n = strlen(s);
  if (p >= end) return NULL;
  const uint8_t *r = memmem(p, (size_t)(end - p), s, n);
  return r ? r + n : NULL;
}
static int64_t parse_int(const uint8_t *p, const uint8_t *end, const uint8_t **after) {
  int64_t v = 0;
  int any = 0;
  while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0'), any = 1;
  if (after) *after = p;
  return any ? v : -1;
}
static int starts(const uint8_t *p, size_t n, const char *s) {
  size_t k = strlen(s);
  return n >= k && memcmp(p, s, k) == 0;
}
/* `"pos":{"e":"E","o":O}` at p (after the key): copies E, returns O (-1 when pos is null or malformed) */
static int64_t parse_pos(const uint8_t *p, const uint8_t *end, char *e, size_t ecap, const uint8_t **after) {
  const uint8_t *q = find(p, end, "{\"e\":\"");
  if (!q || q - p > 8) return -1;
  size_t k = 0;
  while (q < end && *q != '"' && k + 1 < ecap) e[k++] = (char)*q++;
  e[k] = 0;
  q = find(q, end, "\"o\":");
  if (!q) return -1;
  return parse_int(q, end, after);
}

/* ---- output ---- */
static void out_reserve(conn_t *c, size_t n) {
  if (c->olen + n <= c->ocap) return;
  if (c->ooff) {
    memmove(c->out, c->out + c->ooff, c->olen - c->ooff);
    c->olen -= c->ooff;
    c->ooff = 0;
    if (c->olen + n <= c->ocap) return;
  }
  size_t cap = c->ocap ? c->ocap : 512;
  while (cap < c->olen + n) cap *= 2;
  c->out = realloc(c->out, cap);
  if (!c->out) die("realloc");
  c->ocap = cap;
}
static void out_frame(conn_t *c, int op, const void *payload, size_t n) {
  static const uint8_t m[4] = {MASK0, MASK1, MASK2, MASK3};
  out_reserve(c, n + 14);
  uint8_t *o = c->out + c->olen;
  size_t h = 0;
  o[h++] = 0x80 | op;
  if (n < 126) o[h++] = 0x80 | n;
  else if (n < 65536) { o[h++] = 0x80 | 126; o[h++] = n >> 8; o[h++] = n & 255; }
  else arg_err("(frame too large)");
  memcpy(o + h, m, 4);
  h += 4;
  const uint8_t *p = payload;
  for (size_t i = 0; i < n; i++) o[h + i] = p[i] ^ m[i & 3];
  c->olen += h + n;
}
static void conn_lost(conn_t *c);
static void flush(conn_t *c) {
  while (c->ooff < c->olen) {
    ssize_t w = write(c->fd, c->out + c->ooff, c->olen - c->ooff);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      conn_lost(c);
      return;
    }
    c->ooff += (size_t)w;
  }
  c->ooff = c->olen = 0;
}

/* ---- connections ---- */
static int node_index(const char *id) {
  for (int i = 0; i < nnodes; i++)
    if (!strcmp(node_ids[i], id)) return i;
  if (nnodes == MAX_NODES) return MAX_NODES - 1;
  snprintf(node_ids[nnodes], sizeof node_ids[nnodes], "%s", id);
  return nnodes++;
}
static void conn_close(conn_t *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  if (c->state == S_CONNECTING || c->state == S_HS_SENT) pending_connects--;
  if (c->state == S_JOINED && !c->is_pub) {
    joined--;
    node_subs[c->node]--;
  }
  c->state = S_FREE;
  c->olen = c->ooff = 0;
  c->hdr_have = c->in_payload = 0;
  c->mlen = 0;
}
static void conn_start(conn_t *c, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, host, &a.sin_addr);
  c->fd = fd;
  c->port = port;
  c->state = S_CONNECTING;
  c->hlen = 0;
  c->node = -1;
  c->t_attempt = now_us();
  pending_connects++;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
    conn_lost(c);
    return;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   path, host, port);
  out_reserve(c, (size_t)n);
  memcpy(c->out + c->olen, req, (size_t)n);
  c->olen += (size_t)n;
}
/* A connection that closed or failed. A resume-mode subscriber that had joined goes back to
   S_WAIT and reconnects after the delay; so does one whose reconnect attempt failed. */
static void conn_lost(conn_t *c) {
  int was = c->state;
  conn_close(c);
  if (mode == M_RESUME && !c->is_pub && reconnecting && !c->gave_up && (was == S_JOINED || c->lost)) {
    if (!c->lost) {
      c->lost = 1;
      c->t_lost = now_us();
      c->retry_at = c->t_lost + (uint64_t)reconnect_delay_ms * 1000;
    } else {
      if (was < S_HELLO) reconnect_failures++;
      c->retry_at = now_us() + 100000; /* a failed attempt: try again in 100 ms */
    }
    c->state = S_WAIT;
    scan_due = 1;
    return;
  }
  if (was == S_CONNECTING || was == S_HS_SENT) failed++;
  else errors++;
}

static void send_join(conn_t *c) {
  char b[512];
  int n = c->lost && c->has_pos
              ? snprintf(b, sizeof b, "{\"id\":1,\"cmd\":\"room.join\",\"data\":{\"room\":\"%s\",\"since\":{\"e\":\"%s\",\"o\":%lld}}}",
                         room, c->pe, (long long)c->po)
              : snprintf(b, sizeof b, "{\"id\":1,\"cmd\":\"room.join\",\"data\":{\"room\":\"%s\"}}", room);
  out_frame(c, 1, b, (size_t)n);
  c->state = S_JOINING;
}
static void send_publish(void) {
  char b[256];
  int64_t q = next_pub_q++;
  int n = snprintf(b, sizeof b, "{\"id\":%lld,\"cmd\":\"room.publish\",\"data\":{\"room\":\"%s\",\"data\":{\"q\":%lld,\"p\":\"",
                   (long long)(q + 2), room, (long long)q);
  int pad = fsize - (n - (int)(strstr(b, "{\"q\"") - b)) - 2; /* a data object of fsize bytes */
  if (pad < 0) pad = 0;
  if (n + pad + 3 >= (int)sizeof b) pad = (int)sizeof b - n - 4;
  memset(b + n, 'x', (size_t)pad);
  n += pad;
  memcpy(b + n, "\"}}}", 4);
  n += 4;
  out_frame(pub, 1, b, (size_t)n);
  int slot = (int)(q % RING);
  ring_q[slot] = q;
  ring_t[slot] = t_read;
  ring_cnt[slot] = 0;
  inflight++;
  sent++;
}
static void pub_fill(void) {
  if (mode != M_FANOUT || paced) return;
  while (issuing && pub->state == S_JOINED && inflight < (uint64_t)window) send_publish();
}
static void pub_pace(void) {
  if ((mode != M_RESUME && !paced) || !issuing || pub->state != S_JOINED) return;
  uint64_t t = now_us();
  if (!next_pub_at) next_pub_at = t;
  int burst = 0;
  /* inflight bounds what a stalled node can queue; the pace never catches up by more than 64 */
  uint64_t cap = mode == M_FANOUT ? (uint64_t)window : 256;
  while (next_pub_at <= t && inflight < cap && burst < 64) {
    t_read = t;
    send_publish();
    next_pub_at += (uint64_t)(1e6 / rate);
    burst++;
  }
  if (next_pub_at + 1000000 < t) next_pub_at = t; /* far behind (the publisher's node stalled): do not burst */
  if (pub->olen) flush(pub);
}

/* ---- receiving ---- */
static void check_seq(conn_t *c, int64_t q) {
  if (q < 0) { errors++; return; }
  if (c->next_q < 0 || q == c->next_q) c->next_q = q + 1;
  else if (q < c->next_q) dups++;
  else {
    static int told = 0; /* the first few gaps, for whoever looks into one */
    if (told++ < 5)
      fprintf(stderr, "room-loadgen: gap on connection %d: expected q %lld, got %lld (state %d, lost %d, resumed %d)\n",
              (int)(c - conns), (long long)c->next_q, (long long)q, c->state, c->lost, c->resumed);
    gaps += (uint64_t)(q - c->next_q);
    c->next_q = q + 1;
  }
}
static void on_delivery(conn_t *c, const uint8_t *p, const uint8_t *end) {
  if (c->is_pub) return;
  const uint8_t *d = find(p, end, "\"data\":{\"q\":");
  int64_t q = d ? parse_int(d, end, NULL) : -1;
  if (mode == M_FANOUT) {
    if (q < 0) { errors++; return; }
    int slot = (int)(q % RING);
    if (ring_q[slot] != q) { stale++; return; }
    hist_add(&lat, t_read - ring_t[slot]);
    deliveries++;
    node_deliv[c->node]++;
    if (++ring_cnt[slot] == (uint32_t)nsubs) {
      completed++;
      inflight--;
      pub_fill();
    }
    return;
  }
  if (c->state != S_JOINED) {
    /* not a member as far as this client knows (its join has no reply yet, or failed): counted
       on their own, not taken for the sequence (they would show as a gap, then duplicates) */
    early++;
    return;
  }
  const uint8_t *pp = find(p, end, "\"pos\":");
  if (pp) {
    char e[64];
    int64_t o = parse_pos(pp, end, e, sizeof e, NULL);
    if (o >= 0) {
      memcpy(c->pe, e, sizeof e);
      c->po = o;
      c->has_pos = 1;
    }
  }
  deliveries++;
  check_seq(c, q);
}
static void on_hello(conn_t *c, const uint8_t *p, const uint8_t *end) {
  const uint8_t *s = find(p, end, "\"id\":\"");
  char id[32];
  size_t k = 0;
  while (s && s < end && *s != '.' && *s != '"' && k + 1 < sizeof id) id[k++] = (char)*s++;
  id[k] = 0;
  if (!k) { errors++; conn_lost(c); return; }
  c->node = node_index(id);
  if (!c->is_pub && avoid_pub_node && !c->lost && pub->node == c->node) {
    /* landed on the publisher's node: replace it (nodes share the port under --workers) */
    rerolled++;
    conn_close(c);
    c->state = S_WAIT;
    c->retry_at = 0;
    scan_due = 1;
    return;
  }
  send_join(c);
}
/* The reply to a rejoin with `since`: `{"pos":top,"recovered":true,"messages":[{"pos":..,"data":{"q":..}},...]}`. */
static void on_rejoin(conn_t *c, const uint8_t *p, const uint8_t *end) {
  const uint8_t *top = find(p, end, "\"data\":{\"pos\":");
  char e[64];
  int64_t o = top ? parse_pos(top, end, e, sizeof e, NULL) : -1;
  if (!find(p, end, "\"recovered\":true")) {
    resets++;
    rejoin_failed++;
    c->gave_up = 1;
    c->next_q = -1; /* the client would reload its state: nothing left to verify for it */
  } else {
    const uint8_t *m = find(p, end, "\"messages\":[");
    uint64_t k = 0;
    while (m && m < end) {
      const uint8_t *pp = find(m, end, "{\"pos\":");
      if (!pp) break;
      const uint8_t *after;
      char me[64];
      int64_t mo = parse_pos(pp, end, me, sizeof me, &after);
      const uint8_t *d = find(after ? after : pp, end, "\"data\":{\"q\":");
      if (mo < 0 || !d) { errors++; break; }
      check_seq(c, parse_int(d, end, &m));
      k++;
    }
    replayed += k;
    if (k > replayed_max) replayed_max = k;
    resumed++;
    c->resumed = 1;
    hist_add(&lat, t_read - c->t_attempt);
    hist_add(&lost_to_resumed, t_read - c->t_lost);
  }
  if (o >= 0) {
    memcpy(c->pe, e, sizeof e);
    c->po = o;
    c->has_pos = 1;
  }
  c->lost = 0;
}
static void on_reply(conn_t *c, const uint8_t *p, const uint8_t *end) {
  int64_t id = parse_int(p + 6, end, NULL);
  int ok = find(p, end, "\"ok\":true") != NULL;
  if (id == 1 && c->state == S_JOINING) {
    if (!ok) {
      join_errors++;
      if (c->lost && ++c->rejoin_tries <= 10) {
        /* the node could not reach the broker yet: the command client retries too */
        c->state = S_HELLO;
        c->rejoin_due = 1;
        c->retry_at = now_us() + 100000;
        scan_due = 1;
        return;
      }
      if (c->lost) rejoin_failed++, c->gave_up = 1;
      conn_lost(c);
      return;
    }
    if (c->lost) on_rejoin(c, p, end);
    else if (mode == M_RESUME) {
      const uint8_t *top = find(p, end, "\"data\":{\"pos\":");
      int64_t o = top ? parse_pos(top, end, c->pe, sizeof c->pe, NULL) : -1;
      if (o >= 0) c->po = o, c->has_pos = 1;
    }
    c->state = S_JOINED;
    if (!c->is_pub) {
      joined++;
      node_subs[c->node]++;
    }
    return;
  }
  if (c != pub || id < 2) { other_msgs++; return; }
  pub_replies++;
  if (!ok) {
    static int told = 0; /* the first few, for whoever looks into one */
    if (told++ < 3) fprintf(stderr, "room-loadgen: publish of q %lld failed: %.*s\n", (long long)(id - 2), (int)(end - p > 300 ? 300 : end - p), (const char *)p);
    pub_errors++;
  } else if (id - 2 > last_ok_q) last_ok_q = id - 2;
  if (mode == M_RESUME) inflight--;
}
static void message_done(conn_t *c) {
  const uint8_t *p = c->msg, *end = c->msg + c->mlen;
  size_t n = c->mlen;
  if (starts(p, n, "{\"event\":\"room.message\"")) on_delivery(c, p, end);
  else if (starts(p, n, "{\"id\":")) on_reply(c, p, end);
  else if (starts(p, n, "{\"event\":\"hello\"")) on_hello(c, p, end);
  else if (starts(p, n, "{\"event\":\"room.reset\"")) resets++;
  else other_msgs++;
  c->mlen = 0;
}
static void frame_done(conn_t *c) {
  if (c->op == 9) {
    out_frame(c, 10, c->ctl, (size_t)c->ctl_len);
    pongs++;
  } else if (c->op == 8) {
    conn_lost(c);
  } else if (c->op < 8 && c->fin) {
    message_done(c);
  }
}
static size_t hdr_total(const uint8_t *h) {
  size_t l = h[1] & 0x7f;
  return 2 + (l == 126 ? 2 : l == 127 ? 8 : 0) + ((h[1] & 0x80) ? 4 : 0);
}
static void feed(conn_t *c, const uint8_t *p, size_t n) {
  while (n && c->state >= S_HELLO) {
    if (!c->in_payload) {
      size_t want = c->hdr_have < 2 ? 2 : hdr_total(c->hdr);
      size_t take = want - (size_t)c->hdr_have;
      if (take > n) take = n;
      memcpy(c->hdr + c->hdr_have, p, take);
      c->hdr_have += (int)take;
      p += take;
      n -= take;
      if (c->hdr_have < 2 || c->hdr_have < (int)hdr_total(c->hdr)) continue;
      const uint8_t *h = c->hdr;
      uint64_t len = h[1] & 0x7f;
      if (len == 126) len = ((uint64_t)h[2] << 8) | h[3];
      else if (len == 127) { len = 0; for (int i = 0; i < 8; i++) len = (len << 8) | h[2 + i]; }
      c->op = h[0] & 0x0f;
      c->fin = h[0] >> 7;
      c->hdr_have = 0;
      c->ctl_len = 0;
      if (c->op == 1 || c->op == 2) c->mlen = 0;
      if (c->op < 8 && c->mlen + len > c->mcap) {
        size_t cap = c->mcap ? c->mcap : 256;
        while (cap < c->mlen + len) cap *= 2;
        c->msg = realloc(c->msg, cap);
        if (!c->msg) die("realloc");
        c->mcap = cap;
      }
      c->pay_left = len;
      if (len == 0) frame_done(c);
      else c->in_payload = 1;
    } else {
      size_t take = n < c->pay_left ? n : (size_t)c->pay_left;
      if (c->op >= 8) {
        size_t room_left = sizeof c->ctl - (size_t)c->ctl_len;
        size_t k = take < room_left ? take : room_left;
        memcpy(c->ctl + c->ctl_len, p, k);
        c->ctl_len += (int)k;
      } else {
        memcpy(c->msg + c->mlen, p, take);
        c->mlen += take;
      }
      c->pay_left -= take;
      p += take;
      n -= take;
      if (!c->pay_left) {
        c->in_payload = 0;
        frame_done(c);
      }
    }
  }
}
static void on_http(conn_t *c, const uint8_t *p, size_t n) {
  size_t room_left = sizeof c->hbuf - 1 - (size_t)c->hlen;
  size_t k = n < room_left ? n : room_left;
  memcpy(c->hbuf + c->hlen, p, k);
  c->hlen += (int)k;
  c->hbuf[c->hlen] = 0;
  char *end = strstr(c->hbuf, "\r\n\r\n");
  if (!end) {
    if (c->hlen >= (int)sizeof c->hbuf - 1) conn_lost(c);
    return;
  }
  if (strncmp(c->hbuf, "HTTP/1.1 101", 12) != 0) { conn_lost(c); return; }
  size_t used_here = (size_t)(end + 4 - c->hbuf) - ((size_t)c->hlen - k);
  pending_connects--;
  c->state = S_HELLO;
  if (n > used_here) feed(c, p + used_here, n - used_here);
}
static void on_event(conn_t *c, uint32_t evs) {
  if (c->state == S_CONNECTING && (evs & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) { conn_lost(c); return; }
    c->state = S_HS_SENT;
  }
  if (evs & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    for (;;) {
      ssize_t r = read(c->fd, rbuf, sizeof rbuf);
      t_read = now_us();
      if (r > 0) {
        reads++;
        if (c->state == S_HS_SENT) on_http(c, rbuf, (size_t)r);
        else feed(c, rbuf, (size_t)r);
        if (c->fd < 0) return;
        if ((size_t)r < sizeof rbuf && !(evs & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) break;
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
      conn_lost(c);
      return;
    }
  }
  if (c->fd >= 0 && c->olen) flush(c);
}

/* ---- event loop ---- */
static int stdin_lines = 0, stdin_eof = 0;
static void stdin_read(void) {
  char b[256];
  ssize_t r;
  while ((r = read(0, b, sizeof b)) > 0)
    for (ssize_t i = 0; i < r; i++) stdin_lines += b[i] == '\n';
  if (r == 0) {
    stdin_eof = 1;
    epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
  }
}
static void loop_once(int timeout) {
  struct epoll_event evs[512];
  if ((mode == M_RESUME || paced) && issuing) timeout = 1;
  int n = epoll_wait(ep, evs, 512, timeout);
  for (int i = 0; i < n; i++) {
    if (evs[i].data.ptr == NULL) { stdin_read(); continue; }
    on_event((conn_t *)evs[i].data.ptr, evs[i].events);
  }
  uint64_t t = now_us();
  /* (re)connects that are due, rejoins that wait for a retry */
  if (scan_due) {
    scan_due = 0;
    for (int i = 0; i < nslots; i++) {
      conn_t *c = &conns[i];
      if (c->state == S_WAIT) {
        if (c->retry_at <= t && pending_connects < cc_limit) {
          if (c->lost) reconnect_attempts++;
          conn_start(c, c->lost ? resume_port : c->port);
        } else scan_due = 1;
      } else if (c->rejoin_due) {
        if (c->retry_at <= t && c->state == S_HELLO) {
          c->rejoin_due = 0;
          send_join(c);
          flush(c);
        } else if (c->state == S_HELLO) scan_due = 1;
        else c->rejoin_due = 0;
      }
    }
  }
  pub_pace();
  if (pub && pub->fd >= 0 && pub->olen) flush(pub);
  if (now_us() > t_deadline) {
    fprintf(stderr, "room-loadgen: hard timeout reached\n");
    printf("DONE {\"timeout\":true}\n");
    fflush(stdout);
    exit(3);
  }
}
static void wait_stdin(void) {
  while (!stdin_eof && stdin_lines == 0) loop_once(20);
  if (stdin_lines) stdin_lines--;
}
/* Opens and joins every connection (the publisher first: --avoid-pub-node needs its node). */
static void connect_all(void) {
  pub->is_pub = 1;
  conn_start(pub, pub_port);
  while (pub->state != S_JOINED && pub->fd >= 0) loop_once(10);
  if (pub->state != S_JOINED) { fprintf(stderr, "room-loadgen: the publisher could not join\n"); exit(4); }
  int next = 0;
  uint64_t max_rerolls = (uint64_t)nsubs * 20 + 100;
  while (joined < nsubs && (failed + errors) == 0 && rerolled < max_rerolls) {
    while (next < nsubs && pending_connects < cc_limit) {
      conn_t *c = &conns[next];
      int g = 0, acc = group_n[0];
      while (next >= acc) acc += group_n[++g];
      conn_start(c, group_port[g]);
      next++;
    }
    loop_once(10);
  }
}
static void fanout_phase(uint64_t dur_us) {
  uint64_t end = now_us() + dur_us;
  t_read = now_us();
  next_pub_at = 0; /* a paced phase starts on time, not with the backlog of the pause before it */
  issuing = 1;
  pub_fill();
  flush(pub);
  while (now_us() < end) loop_once(5);
  issuing = 0;
  uint64_t drain_end = now_us() + 10000000ull;
  while (inflight > 0 && now_us() < drain_end) loop_once(5);
}
static void run_for(uint64_t us) {
  uint64_t end = now_us() + us;
  while (now_us() < end) loop_once(1);
}

static void print_nodes(void) {
  printf("\"nodes\":{");
  for (int i = 0; i < nnodes; i++)
    printf("%s\"%s\":{\"subs\":%llu,\"deliveries\":%llu}", i ? "," : "", node_ids[i], (unsigned long long)node_subs[i],
           (unsigned long long)node_deliv[i]);
  printf("},\"pub_node\":\"%s\"", pub->node >= 0 ? node_ids[pub->node] : "");
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) arg_err("(mode)");
  if (!strcmp(argv[1], "fanout")) mode = M_FANOUT;
  else if (!strcmp(argv[1], "resume")) mode = M_RESUME;
  else arg_err(argv[1]);
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (!strcmp(a, name) && v && ++i)
    if (OPT("--pub")) pub_port = atoi(v);
    else if (OPT("--subs")) {
      char *s = strdup(v), *tok, *save = NULL;
      for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        if (!colon || ngroups == MAX_GROUPS) arg_err(v);
        group_port[ngroups] = atoi(tok);
        group_n[ngroups++] = atoi(colon + 1);
      }
    } else if (OPT("--resume-port")) resume_port = atoi(v);
    else if (OPT("--host")) host = v;
    else if (OPT("--path")) path = v;
    else if (OPT("--room")) room = v;
    else if (OPT("--window")) window = atoi(v);
    else if (OPT("--size")) fsize = atoi(v);
    else if (OPT("--rate")) rate = atof(v), paced = 1;
    else if (OPT("--warmup-ms")) warmup_ms = atol(v);
    else if (OPT("--duration-ms")) duration_ms = atol(v);
    else if (OPT("--timeout-ms")) timeout_ms = atol(v);
    else if (OPT("--reconnect-delay-ms")) reconnect_delay_ms = atol(v);
    else if (OPT("--tail-ms")) tail_ms = atol(v);
    else if (OPT("--connect-concurrency")) cc_limit = atoi(v);
    else if (!strcmp(a, "--avoid-pub-node")) avoid_pub_node = 1;
    else arg_err(a);
  }
  if (!pub_port || !ngroups) arg_err("--pub and --subs");
  if (fsize < 16 || fsize > 120) arg_err("--size (16..120)");
  if (window < 1 || window >= RING) arg_err("--window");
  if (rate <= 0) arg_err("--rate");
  if (!resume_port) resume_port = group_port[0];
  if (strlen(room) > 100) arg_err("--room");
  for (int g = 0; g < ngroups; g++) nsubs += group_n[g];
  t_deadline = now_us() + (uint64_t)timeout_ms * 1000;
  lat.b = calloc(HIST_N, sizeof *lat.b);
  lost_to_resumed.b = calloc(HIST_N, sizeof *lost_to_resumed.b);
  for (int i = 0; i < RING; i++) ring_q[i] = -1;
  ep = epoll_create1(EPOLL_CLOEXEC);
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev) < 0) stdin_eof = 1;

  nslots = nsubs + 1;
  conns = calloc((size_t)nslots, sizeof *conns);
  for (int i = 0; i < nslots; i++) conns[i].fd = -1, conns[i].next_q = -1, conns[i].node = -1;
  pub = &conns[nsubs];

  uint64_t t0 = now_us();
  connect_all();
  double connect_s = (now_us() - t0) / 1e6;
  if (joined < nsubs) {
    printf("READY {\"open\":%d,\"failed\":%llu,\"errors\":%llu,\"rerolled\":%llu,\"connect_s\":%.3f}\n", joined,
           (unsigned long long)failed, (unsigned long long)errors, (unsigned long long)rerolled, connect_s);
    fflush(stdout);
    wait_stdin();
    return 5;
  }

  if (mode == M_FANOUT) {
    if (warmup_ms > 0) fanout_phase((uint64_t)warmup_ms * 1000);
    printf("READY {\"open\":%d,\"failed\":%llu,\"errors\":%llu,\"rerolled\":%llu,\"connect_s\":%.3f,", joined,
           (unsigned long long)failed, (unsigned long long)errors, (unsigned long long)rerolled, connect_s);
    print_nodes();
    printf("}\n");
    fflush(stdout);
    wait_stdin();
    hist_clear(&lat);
    memset(node_deliv, 0, sizeof node_deliv);
    deliveries = completed = sent = pub_errors = resets = stale = reads = 0;
    uint64_t err0 = errors, fail0 = failed;
    double c0 = cpu_s();
    uint64_t w0 = now_us();
    fanout_phase((uint64_t)duration_ms * 1000);
    double el = (now_us() - w0) / 1e6, gc = cpu_s() - c0;
    printf("DONE {\"units\":%llu,\"deliveries\":%llu,\"msgs\":%llu,\"sent\":%llu,\"elapsed_s\":%.6f,\"gen_cpu_s\":%.6f,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f,\"lost\":%llu,\"errors\":%llu,\"failed\":%llu,\"pub_errors\":%llu,"
           "\"resets\":%llu,\"stale\":%llu,\"reads\":%llu,\"open\":%d,",
           (unsigned long long)deliveries, (unsigned long long)deliveries, (unsigned long long)completed,
           (unsigned long long)sent, el, gc, hist_pct(&lat, 0.5), hist_pct(&lat, 0.99), (unsigned long long)inflight,
           (unsigned long long)(errors - err0), (unsigned long long)(failed - fail0), (unsigned long long)pub_errors,
           (unsigned long long)resets, (unsigned long long)stale, (unsigned long long)reads, joined);
    print_nodes();
    printf("}\n");
    fflush(stdout);
    wait_stdin();
    return 0;
  }

  /* resume: every subscriber must be on one node (the one the runner kills) */
  int vnode = conns[0].node;
  for (int i = 0; i < nsubs; i++)
    if (conns[i].node != vnode) { fprintf(stderr, "room-loadgen: subscribers are on more than one node\n"); exit(4); }
  if (vnode == pub->node) { fprintf(stderr, "room-loadgen: subscribers share the publisher's node\n"); exit(4); }
  snprintf(victim, sizeof victim, "%s", node_ids[vnode]);
  issuing = 1;
  reconnecting = 1;
  run_for((uint64_t)warmup_ms * 1000);
  uint64_t warm_deliveries = deliveries;
  printf("READY {\"open\":%d,\"failed\":%llu,\"errors\":%llu,\"rerolled\":%llu,\"connect_s\":%.3f,\"victim\":\"%s\","
         "\"warm_deliveries\":%llu,",
         joined, (unsigned long long)failed, (unsigned long long)errors, (unsigned long long)rerolled, connect_s, victim,
         (unsigned long long)warm_deliveries);
  print_nodes();
  printf("}\n");
  fflush(stdout);
  double c0 = cpu_s();
  uint64_t w0 = now_us();
  wait_stdin(); /* the runner has killed the node */
  uint64_t t_killed = now_us();
  /* every subscriber lost, reconnected and rejoined (or failed), bounded */
  uint64_t resume_end = t_killed + 30000000ull;
  for (;;) {
    int pending = 0;
    for (int i = 0; i < nsubs; i++) pending += !conns[i].resumed && !conns[i].gave_up;
    if (!pending || now_us() > resume_end) break;
    loop_once(1);
  }
  uint64_t all_resumed_s = now_us() - t_killed;
  /* the runner reads the server side's CPU here: what the resume cost, without the tail */
  printf("RESUMED {\"resumed\":%llu,\"after_kill_us\":%llu}\n", (unsigned long long)resumed, (unsigned long long)all_resumed_s);
  fflush(stdout);
  run_for((uint64_t)tail_ms * 1000);
  issuing = 0;
  /* drain: publishes answered, every subscriber caught up with the last one, bounded */
  uint64_t drain_end = now_us() + 10000000ull;
  for (;;) {
    int behind = 0;
    for (int i = 0; i < nsubs; i++)
      if (conns[i].state == S_JOINED && conns[i].next_q >= 0 && conns[i].next_q <= last_ok_q) behind++;
    if ((!inflight && !behind) || now_us() > drain_end) break;
    loop_once(5);
  }
  double el = (now_us() - w0) / 1e6, gc = cpu_s() - c0;
  uint64_t missing = 0, behind = 0, unverified = 0, never_lost = 0;
  for (int i = 0; i < nsubs; i++) {
    conn_t *c = &conns[i];
    if (c->state != S_JOINED) { unverified++; continue; }
    if (!c->resumed) never_lost++;
    if (c->next_q < 0) { unverified++; continue; }
    if (c->next_q <= last_ok_q) behind++, missing += (uint64_t)(last_ok_q + 1 - c->next_q);
  }
  printf("DONE {\"subs\":%d,\"resumed\":%llu,\"rejoin_failed\":%llu,\"resets\":%llu,\"join_errors\":%llu,"
         "\"reconnect_attempts\":%llu,\"reconnect_failures\":%llu,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%llu,"
         "\"lost_p50_us\":%.1f,\"lost_p99_us\":%.1f,\"all_resumed_us\":%llu,\"replayed\":%llu,\"replayed_max\":%llu,"
         "\"gaps\":%llu,\"early\":%llu,\"missing\":%llu,\"behind\":%llu,\"unverified\":%llu,\"never_lost\":%llu,\"dups\":%llu,"
         "\"published\":%llu,\"pub_ok_last\":%lld,\"pub_errors\":%llu,\"pub_inflight\":%llu,\"deliveries\":%llu,"
         "\"errors\":%llu,\"failed\":%llu,\"elapsed_s\":%.6f,\"gen_cpu_s\":%.6f,\"victim\":\"%s\",",
         nsubs, (unsigned long long)resumed, (unsigned long long)rejoin_failed, (unsigned long long)resets,
         (unsigned long long)join_errors, (unsigned long long)reconnect_attempts, (unsigned long long)reconnect_failures,
         hist_pct(&lat, 0.5), hist_pct(&lat, 0.99), (unsigned long long)lat.max, hist_pct(&lost_to_resumed, 0.5),
         hist_pct(&lost_to_resumed, 0.99), (unsigned long long)all_resumed_s, (unsigned long long)replayed,
         (unsigned long long)replayed_max, (unsigned long long)gaps, (unsigned long long)early, (unsigned long long)missing,
         (unsigned long long)behind, (unsigned long long)unverified, (unsigned long long)never_lost,
         (unsigned long long)dups, (unsigned long long)sent, (long long)last_ok_q, (unsigned long long)pub_errors,
         (unsigned long long)inflight, (unsigned long long)deliveries, (unsigned long long)errors,
         (unsigned long long)failed, el, gc, victim);
  print_nodes();
  printf("}\n");
  fflush(stdout);
  wait_stdin();
  return 0;
}
