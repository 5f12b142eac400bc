/*
 * Switchboard benchmark load generator (built by bench/run.ts with `cc -O2`).
 *
 * One single-threaded epoll loop, non-blocking sockets, pre-built masked frames
 * written with writev from a per-connection queue of iovecs (no per-message copy),
 * frames parsed in place from one 256 KiB read buffer (payloads are skipped, not
 * copied).  Only connects to the host given (the runner passes 127.0.0.1).
 *
 * Modes:
 *   echo       --conns N --window W --payload FILE [--opcode 1|2] [--rsv1] [--expect FILE]
 *              every connection keeps W messages in flight; a reply frees a slot.
 *              Replies are checked byte for byte against what was sent (or against
 *              --expect, the uncompressed payloads, when --rsv1 sends compressed ones;
 *              compressed replies are counted, not inflated).
 *   fanout     --conns N (subscribers) --window W --size S   (+1 publisher)
 *              publisher keeps W messages in flight; a message is complete when
 *              every subscriber has received it.
 *   handshake  --workers W   W concurrent open (HTTP upgrade) + close cycles.
 *   idle       --conns N      open N connections and hold them.
 *
 * Common: --port P [--host 127.0.0.1] [--path /echo] [--deflate: offer permessage-deflate]
 *   [--warmup-ms 1000] [--duration-ms 3000] [--max-msgs N] [--timeout-ms 60000]
 *   [--connect-concurrency 256: handshakes in progress at once while connecting]
 * Payload files: u32 count, then count x (u32 length, bytes), little-endian.
 *
 * Protocol with the runner (stdout lines, stdin lines):
 *   connect + warm-up + drain, print "READY {json}", wait for a stdin line,
 *   measured phase (bounded by --duration-ms and --max-msgs), drain,
 *   print "DONE {json}", wait for a stdin line (or EOF / --timeout-ms), exit.
 * Everything is bounded by --timeout-ms (hard deadline for the whole process).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum { M_ECHO, M_FANOUT, M_HANDSHAKE, M_IDLE };
enum { S_FREE, S_CONNECTING, S_HS_SENT, S_OPEN, S_CLOSING };

#define MASK0 0x37
#define MASK1 0xfa
#define MASK2 0x21
#define MASK3 0x3d
#define RBUF (256 * 1024)
#define PUB_RING 4096
#define HIST_LIN 100000 /* 1 us buckets below 100 ms */
#define HIST_N (HIST_LIN + 100000)

typedef struct conn {
  int fd, state, is_pub, idx;
  uint64_t nsent; /* messages this connection has sent */
  char hbuf[2048];
  int hlen;
  /* frame parser */
  uint8_t hdr[14];
  int hdr_have, in_payload;
  uint64_t pay_left, msg_bytes;
  uint8_t op, fin, ctl_len, msg_rsv1, bad;
  int var;
  uint8_t ctl[125];
  uint8_t pfx[16];
  int pfx_have;
  /* output queue: ring of iovecs */
  struct iovec *q;
  int qcap, qhead, qlen;
  size_t qoff;
  uint8_t pong[131];
  int pong_queued;
  /* in-flight send times (echo) */
  uint64_t *ts;
  uint16_t *vr; /* payload variant of each message in flight (echo) */
  int tshead, tslen, tscap;
  uint64_t t0;
} conn_t;

/* ---- options ---- */
static int mode = M_ECHO, port = 0, nconns = 1, window = 1, workers = 1, opcode = 1, rsv1 = 0, deflate = 0, cc_limit = 256,
           fsize = 64;
static const char *host = "127.0.0.1", *path = "/echo", *payload_file = NULL, *expect_file = NULL;
static long warmup_ms = 1000, duration_ms = 3000, timeout_ms = 60000;
static uint64_t max_msgs = 0;

/* ---- state ---- */
static int ep;
static conn_t *conns;
static int nslots;
static uint64_t t_deadline;
static uint8_t **frames; /* pre-built masked frames */
static size_t *frame_len;
static int nframes;
static uint8_t **expect; /* what an echo must carry back, per variant (uncompressed) */
static size_t *expect_len;
static int nexpect;
static uint8_t hs_req[1024];
static size_t hs_req_len;
static const uint8_t close_frame[8] = {0x88, 0x82, MASK0, MASK1, MASK2, MASK3, 0x03 ^ MASK0, 0xe8 ^ MASK1};
static uint8_t rbuf[RBUF];
static uint32_t *hist;

static int issuing = 0;
static uint64_t sent = 0, recvd = 0, bytes_in = 0, errors = 0, inflight = 0, ext_ok = 0, opened = 0, failed = 0,
                handshakes = 0, deliveries = 0, pongs = 0, rsv1_in = 0, mismatches = 0, reads = 0;
static int pending_connects = 0, started = 0;
/* fanout */
static conn_t *pub;
static uint8_t (*pub_frames)[6 + 2 + 125];
static size_t pub_flen;
static uint64_t pub_ts[PUB_RING];
static uint32_t pub_cnt[PUB_RING];
static uint64_t pub_seq = 0;

static void arg_err(const char *a) {
  fprintf(stderr, "loadgen: bad argument %s\n", a);
  exit(2);
}
static uint64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000ull + t.tv_nsec / 1000;
}
/* Time of the current read: taken once per read() rather than per message (a clock
   read costs ~45 ns here, a sizeable share of the generator's cost per message). */
static uint64_t t_read;
static double cpu_s(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}
static void die(const char *m) {
  fprintf(stderr, "loadgen: %s: %s\n", m, strerror(errno));
  exit(2);
}
static void hist_add(uint64_t us) {
  uint64_t i = us < HIST_LIN ? us : HIST_LIN + (us - HIST_LIN) / 1000;
  if (i >= HIST_N) i = HIST_N - 1;
  hist[i]++;
}
static double hist_pct(double p) {
  uint64_t total = 0, acc = 0;
  for (int i = 0; i < HIST_N; i++) total += hist[i];
  if (!total) return -1;
  uint64_t want = (uint64_t)(p * total);
  if (want >= total) want = total - 1;
  for (int i = 0; i < HIST_N; i++) {
    acc += hist[i];
    if (acc > want) return i < HIST_LIN ? i : HIST_LIN + (double)(i - HIST_LIN) * 1000;
  }
  return -1;
}

static size_t build_frame(uint8_t *out, const uint8_t *p, size_t n, int op, int r1) {
  static const uint8_t m[4] = {MASK0, MASK1, MASK2, MASK3};
  size_t h = 0;
  out[h++] = 0x80 | (r1 ? 0x40 : 0) | op;
  if (n < 126) out[h++] = 0x80 | n;
  else if (n < 65536) { out[h++] = 0x80 | 126; out[h++] = n >> 8; out[h++] = n & 255; }
  else { out[h++] = 0x80 | 127; for (int i = 7; i >= 0; i--) out[h++] = (uint8_t)((uint64_t)n >> (8 * i)); }
  memcpy(out + h, m, 4);
  h += 4;
  for (size_t i = 0; i < n; i++) out[h + i] = p[i] ^ m[i & 3];
  return h + n;
}

/* file format: u32 count, then count x (u32 length, bytes), little-endian */
static int read_payloads(const char *file, uint8_t ***out, size_t **lens) {
  FILE *f = fopen(file, "rb");
  if (!f) die("payload file");
  uint32_t cnt;
  if (fread(&cnt, 4, 1, f) != 1 || cnt == 0) die("payload file format");
  *out = calloc(cnt, sizeof **out);
  *lens = calloc(cnt, sizeof **lens);
  for (uint32_t i = 0; i < cnt; i++) {
    uint32_t len;
    if (fread(&len, 4, 1, f) != 1) die("payload file format");
    (*out)[i] = malloc(len ? len : 1);
    if (len && fread((*out)[i], len, 1, f) != 1) die("payload file format");
    (*lens)[i] = len;
  }
  fclose(f);
  return (int)cnt;
}
static void load_payloads(void) {
  uint8_t **p;
  size_t *l;
  nframes = read_payloads(payload_file, &p, &l);
  frames = calloc(nframes, sizeof *frames);
  frame_len = calloc(nframes, sizeof *frame_len);
  for (int i = 0; i < nframes; i++) {
    frames[i] = malloc(l[i] + 14);
    frame_len[i] = build_frame(frames[i], p[i], l[i], opcode, rsv1);
  }
  if (expect_file) nexpect = read_payloads(expect_file, &expect, &expect_len);
  else if (!rsv1) { expect = p; expect_len = l; nexpect = nframes; }
  if (nexpect && nexpect != nframes) arg_err("--expect (variant count differs from --payload)");
}

/* ---- output queue ---- */
static void q_push(conn_t *c, const void *p, size_t n) {
  if (c->qlen == c->qcap) {
    int ncap = c->qcap ? c->qcap * 2 : 16;
    struct iovec *nq = malloc(ncap * sizeof *nq);
    for (int i = 0; i < c->qlen; i++) nq[i] = c->q[(c->qhead + i) % c->qcap];
    free(c->q);
    c->q = nq;
    c->qcap = ncap;
    c->qhead = 0;
  }
  struct iovec *v = &c->q[(c->qhead + c->qlen) % c->qcap];
  v->iov_base = (void *)p;
  v->iov_len = n;
  c->qlen++;
}
static void conn_fail(conn_t *c);
static void flush(conn_t *c) {
  while (c->qlen) {
    struct iovec iov[64];
    int n = c->qlen < 64 ? c->qlen : 64;
    for (int i = 0; i < n; i++) iov[i] = c->q[(c->qhead + i) % c->qcap];
    iov[0].iov_base = (uint8_t *)iov[0].iov_base + c->qoff;
    iov[0].iov_len -= c->qoff;
    ssize_t w = writev(c->fd, iov, n);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      conn_fail(c);
      return;
    }
    size_t left = (size_t)w;
    while (left && c->qlen) {
      struct iovec *v = &c->q[c->qhead];
      size_t rem = v->iov_len - c->qoff;
      if (left >= rem) {
        left -= rem;
        if (v->iov_base == c->pong) c->pong_queued = 0;
        c->qoff = 0;
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qlen--;
      } else {
        c->qoff += left;
        left = 0;
      }
    }
  }
}

/* ---- connections ---- */
static void conn_close(conn_t *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  if (c->state == S_CONNECTING || c->state == S_HS_SENT) pending_connects--;
  c->state = S_FREE;
  c->qlen = c->qhead = 0;
  c->qoff = 0;
  c->pong_queued = 0;
}
static void conn_fail(conn_t *c) {
  if (c->state == S_CONNECTING || c->state == S_HS_SENT) failed++;
  else if (c->state == S_OPEN) errors++;
  if (c->state == S_OPEN && mode == M_ECHO) inflight -= c->tslen;
  conn_close(c);
}
static void conn_start(conn_t *c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) { failed++; return; }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, host, &a.sin_addr);
  memset(c, 0, offsetof(conn_t, q));
  c->fd = fd;
  c->idx = (int)(c - conns);
  c->state = S_CONNECTING;
  c->t0 = now_us();
  c->tshead = c->tslen = 0;
  pending_connects++;
  started++;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
    conn_fail(c);
    return;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
}

/* ---- sending ---- */
static void echo_send(conn_t *c) {
  /* each connection cycles through the variants in order, starting at its own index:
     the sequence every connection sends is the same from run to run */
  int k = (int)((c->idx + c->nsent++) % nframes);
  q_push(c, frames[k], frame_len[k]);
  c->vr[(c->tshead + c->tslen) % c->tscap] = (uint16_t)k;
  c->ts[(c->tshead + c->tslen) % c->tscap] = t_read;
  c->tslen++;
  inflight++;
  sent++;
}
static int may_send(void) { return issuing && (!max_msgs || sent < max_msgs); }
static void echo_fill(conn_t *c) {
  while (c->state == S_OPEN && c->tslen < window && may_send()) echo_send(c);
}
static void pub_fill(void) {
  while (pub && pub->state == S_OPEN && inflight < (uint64_t)window && may_send()) {
    uint64_t seq = pub_seq++;
    int slot = seq % PUB_RING;
    uint8_t payload[125];
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)seq);
    memcpy(payload, hex, 16);
    memset(payload + 16, 'x', fsize - 16);
    pub_flen = build_frame(pub_frames[slot], payload, fsize, 1, 0);
    pub_ts[slot] = t_read;
    pub_cnt[slot] = 0;
    q_push(pub, pub_frames[slot], pub_flen);
    inflight++;
    sent++;
  }
}

/* ---- receiving ---- */
static void on_open(conn_t *c);
static void message_done(conn_t *c) {
  uint64_t t = t_read;
  if (mode == M_ECHO) {
    if (!c->tslen) { errors++; return; }
    if (nexpect && !c->msg_rsv1 && (c->bad || c->msg_bytes != expect_len[c->var])) mismatches++;
    hist_add(t - c->ts[c->tshead]);
    c->tshead = (c->tshead + 1) % c->tscap;
    c->tslen--;
    inflight--;
    recvd++;
    bytes_in += c->msg_bytes;
    rsv1_in += c->msg_rsv1;
    echo_fill(c);
  } else if (mode == M_FANOUT) {
    if (c->is_pub) return;
    if (c->pfx_have < 16) { errors++; return; }
    uint64_t seq = 0;
    for (int i = 0; i < 16; i++) {
      uint8_t h = c->pfx[i];
      seq = (seq << 4) | (uint64_t)(h <= '9' ? h - '0' : (h | 32) - 'a' + 10);
    }
    int slot = seq % PUB_RING;
    hist_add(t - pub_ts[slot]);
    deliveries++;
    bytes_in += c->msg_bytes;
    if (++pub_cnt[slot] == (uint32_t)nconns) {
      recvd++;
      inflight--;
      pub_fill();
    }
  }
}
static void frame_done(conn_t *c) {
  if (c->op == 9) { /* ping -> pong */
    if (!c->pong_queued) {
      size_t n = build_frame(c->pong, c->ctl, c->ctl_len, 10, 0);
      c->pong_queued = 1;
      q_push(c, c->pong, n);
      pongs++;
    }
  } else if (c->op == 8) {
    if (c->state != S_CLOSING) errors++;
  } else if (c->op < 8 && c->fin) {
    message_done(c);
  }
}
static void begin_frame(conn_t *c) {
  const uint8_t *h = c->hdr;
  uint64_t len = h[1] & 0x7f;
  if (len == 126) len = ((uint64_t)h[2] << 8) | h[3];
  else if (len == 127) { len = 0; for (int i = 0; i < 8; i++) len = (len << 8) | h[2 + i]; }
  c->op = h[0] & 0x0f;
  c->fin = h[0] >> 7;
  c->ctl_len = 0;
  if (c->op == 1 || c->op == 2) {
    c->pfx_have = 0;
    c->msg_bytes = 0;
    c->msg_rsv1 = (h[0] >> 6) & 1;
    c->bad = 0;
    c->var = (mode == M_ECHO && c->tslen) ? c->vr[c->tshead] : 0;
    if (mode == M_ECHO && nexpect && !c->msg_rsv1 && c->op != opcode) c->bad = 1;
  }
  c->pay_left = len;
  c->hdr_have = 0;
  if (len == 0) frame_done(c);
  else c->in_payload = 1;
}
static size_t hdr_total(const uint8_t *h) {
  size_t l = h[1] & 0x7f;
  return 2 + (l == 126 ? 2 : l == 127 ? 8 : 0) + ((h[1] & 0x80) ? 4 : 0);
}
static void feed(conn_t *c, const uint8_t *p, size_t n) {
  while (n && c->state != S_FREE) {
    if (!c->in_payload) {
      size_t want = c->hdr_have < 2 ? 2 : hdr_total(c->hdr);
      size_t take = want - c->hdr_have;
      if (take > n) take = n;
      memcpy(c->hdr + c->hdr_have, p, take);
      c->hdr_have += take;
      p += take;
      n -= take;
      if (c->hdr_have < 2 || c->hdr_have < (int)hdr_total(c->hdr)) continue;
      begin_frame(c);
    } else {
      size_t take = n < c->pay_left ? n : c->pay_left;
      if (c->op >= 8) {
        size_t room = sizeof c->ctl - c->ctl_len;
        size_t k = take < room ? take : room;
        memcpy(c->ctl + c->ctl_len, p, k);
        c->ctl_len += k;
      } else {
        if (c->pfx_have < 16) {
          size_t k = 16 - c->pfx_have;
          if (k > take) k = take;
          memcpy(c->pfx + c->pfx_have, p, k);
          c->pfx_have += k;
        }
        if (nexpect && mode == M_ECHO && !c->msg_rsv1 && !c->bad) {
          size_t el = expect_len[c->var];
          if (c->msg_bytes + take > el || memcmp(p, expect[c->var] + c->msg_bytes, take) != 0) c->bad = 1;
        }
        c->msg_bytes += take;
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
  size_t room = sizeof c->hbuf - 1 - c->hlen;
  size_t k = n < room ? n : room;
  memcpy(c->hbuf + c->hlen, p, k);
  c->hlen += k;
  c->hbuf[c->hlen] = 0;
  char *end = strstr(c->hbuf, "\r\n\r\n");
  if (!end) {
    if (c->hlen >= (int)sizeof c->hbuf - 1) conn_fail(c);
    return;
  }
  if (strncmp(c->hbuf, "HTTP/1.1 101", 12) != 0) { conn_fail(c); return; }
  if (deflate) {
    for (char *s = c->hbuf; *s; s++) *s = (*s >= 'A' && *s <= 'Z') ? *s + 32 : *s;
    if (strstr(c->hbuf, "permessage-deflate")) ext_ok++;
  }
  size_t hdr_len = (size_t)(end + 4 - c->hbuf);
  size_t consumed_before = c->hlen - k; /* bytes of hbuf that came from earlier reads */
  size_t used_here = hdr_len - consumed_before;
  pending_connects--;
  c->state = S_OPEN;
  on_open(c);
  if (c->state != S_FREE && n > used_here) feed(c, p + used_here, n - used_here);
}
static void on_open(conn_t *c) {
  uint64_t t = now_us();
  opened++;
  if (mode == M_HANDSHAKE) {
    hist_add(t - c->t0);
    handshakes++;
    c->state = S_CLOSING;
    q_push(c, close_frame, sizeof close_frame);
    flush(c);
  } else if (mode == M_ECHO) {
    echo_fill(c);
  }
}
static void on_event(conn_t *c, uint32_t evs) {
  if (c->state == S_CONNECTING && (evs & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) { conn_fail(c); return; }
    c->state = S_HS_SENT;
    q_push(c, hs_req, hs_req_len);
  }
  if (evs & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    for (;;) {
      ssize_t r = read(c->fd, rbuf, sizeof rbuf);
      t_read = now_us();
      if (r > 0) {
        reads++;
        if (c->state == S_HS_SENT) on_http(c, rbuf, r);
        else feed(c, rbuf, r);
        if (c->state == S_FREE) return;
        if ((size_t)r < sizeof rbuf && !(evs & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) break; /* short read: drained (edge-triggered epoll reports new data) */
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
      /* EOF or error */
      if (mode == M_HANDSHAKE && c->state == S_CLOSING) {
        conn_close(c); /* slot is restarted by handshake_refill() */
        return;
      }
      conn_fail(c);
      return;
    }
  }
  if (c->state != S_FREE && c->qlen) flush(c);
}

/* ---- event loop ---- */
/* stdin: lines from the runner are counted whenever they arrive (stdin is read to
   EAGAIN, so a readable stdin never makes the loop spin), and consumed by wait_stdin(). */
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
  int n = epoll_wait(ep, evs, 512, timeout);
  for (int i = 0; i < n; i++) {
    if (evs[i].data.ptr == NULL) {
      stdin_read();
      continue;
    }
    on_event((conn_t *)evs[i].data.ptr, evs[i].events);
  }
  if (pub && pub->state != S_FREE && pub->qlen) flush(pub);
  if (now_us() > t_deadline) {
    fprintf(stderr, "loadgen: hard timeout reached\n");
    printf("DONE {\"timeout\":true}\n");
    fflush(stdout);
    exit(3);
  }
}
static void handshake_refill(void) {
  if (mode != M_HANDSHAKE || !issuing) return;
  for (int i = 0; i < nslots; i++)
    if (conns[i].state == S_FREE && may_send()) {
      sent++;
      conn_start(&conns[i]);
    }
}
static void connect_all(uint64_t limit_us) {
  int total = nslots;
  while ((int)(opened + failed) < total && now_us() < limit_us) {
    while (started < total && pending_connects < cc_limit) conn_start(&conns[started]);
    loop_once(10);
  }
}
static void run_phase(uint64_t dur_us) {
  uint64_t end = now_us() + dur_us;
  t_read = now_us();
  issuing = 1;
  if (mode == M_ECHO)
    for (int i = 0; i < nslots; i++) { echo_fill(&conns[i]); if (conns[i].state != S_FREE) flush(&conns[i]); }
  if (mode == M_FANOUT) { pub_fill(); flush(pub); }
  handshake_refill();
  while (now_us() < end && may_send()) {
    loop_once(5);
    handshake_refill();
  }
  issuing = 0;
  /* drain: wait for in-flight work, bounded */
  uint64_t drain_end = now_us() + 10000000ull;
  for (;;) {
    int busy = 0;
    if (mode == M_HANDSHAKE) {
      for (int i = 0; i < nslots; i++) if (conns[i].state != S_FREE) busy = 1;
    } else busy = inflight > 0;
    if (!busy || now_us() > drain_end) break;
    loop_once(5);
  }
}
static void wait_stdin(void) {
  while (!stdin_eof && stdin_lines == 0) loop_once(50);
  if (stdin_lines) stdin_lines--;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) arg_err("(mode)");
  if (!strcmp(argv[1], "echo")) mode = M_ECHO;
  else if (!strcmp(argv[1], "fanout")) mode = M_FANOUT;
  else if (!strcmp(argv[1], "handshake")) mode = M_HANDSHAKE;
  else if (!strcmp(argv[1], "idle")) mode = M_IDLE;
  else arg_err(argv[1]);
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (!strcmp(a, name) && v && ++i)
    if (OPT("--port")) port = atoi(v);
    else if (OPT("--host")) host = v;
    else if (OPT("--path")) path = v;
    else if (OPT("--conns")) nconns = atoi(v);
    else if (OPT("--window")) window = atoi(v);
    else if (OPT("--workers")) workers = atoi(v);
    else if (OPT("--payload")) payload_file = v;
    else if (OPT("--expect")) expect_file = v;
    else if (OPT("--opcode")) opcode = atoi(v);
    else if (OPT("--size")) fsize = atoi(v);
    else if (OPT("--warmup-ms")) warmup_ms = atol(v);
    else if (OPT("--duration-ms")) duration_ms = atol(v);
    else if (OPT("--timeout-ms")) timeout_ms = atol(v);
    else if (OPT("--max-msgs")) max_msgs = strtoull(v, NULL, 10);
    else if (OPT("--connect-concurrency")) cc_limit = atoi(v);
    else if (!strcmp(a, "--rsv1")) rsv1 = 1;
    else if (!strcmp(a, "--deflate")) deflate = 1;
    else arg_err(a);
  }
  if (fsize < 16 || fsize > 125) arg_err("--size (16..125)");
  if (!port) arg_err("--port");
  t_deadline = now_us() + (uint64_t)timeout_ms * 1000;
  hist = calloc(HIST_N, sizeof *hist);
  ep = epoll_create1(EPOLL_CLOEXEC);
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev) < 0) stdin_eof = 1; /* not a pipe/tty: never wait on it */

  hs_req_len = snprintf((char *)hs_req, sizeof hs_req,
                        "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                        path, host, port,
                        deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "");
  if (mode == M_ECHO) {
    if (!payload_file) arg_err("--payload");
    load_payloads();
  }
  nslots = mode == M_HANDSHAKE ? workers : mode == M_FANOUT ? nconns + 1 : nconns;
  conns = calloc(nslots, sizeof *conns);
  for (int i = 0; i < nslots; i++) {
    conns[i].fd = -1;
    conns[i].tscap = window > 0 ? window : 1;
    conns[i].ts = mode == M_ECHO ? calloc(conns[i].tscap, sizeof(uint64_t)) : NULL;
    conns[i].vr = mode == M_ECHO ? calloc(conns[i].tscap, sizeof(uint16_t)) : NULL;
  }
  if (mode == M_FANOUT) pub_frames = calloc(PUB_RING, sizeof *pub_frames);

  uint64_t t0 = now_us();
  if (mode != M_HANDSHAKE) {
    connect_all(t_deadline);
    if (mode == M_FANOUT) { pub = &conns[nslots - 1]; pub->is_pub = 1; }
  }
  double connect_s = (now_us() - t0) / 1e6;
  /* warm-up (not measured) */
  if (warmup_ms > 0 && mode != M_IDLE && failed == 0) {
    uint64_t saved_max = max_msgs;
    max_msgs = 0;
    run_phase((uint64_t)warmup_ms * 1000);
    max_msgs = saved_max;
  }
  printf("READY {\"open\":%llu,\"failed\":%llu,\"ext\":%llu,\"connect_s\":%.3f,\"errors\":%llu}\n",
         (unsigned long long)opened, (unsigned long long)failed, (unsigned long long)ext_ok, connect_s,
         (unsigned long long)errors);
  fflush(stdout);
  wait_stdin();

  /* measured phase */
  memset(hist, 0, HIST_N * sizeof *hist);
  sent = recvd = bytes_in = deliveries = handshakes = rsv1_in = mismatches = reads = 0;
  uint64_t err0 = errors, fail0 = failed;
  double c0 = cpu_s();
  uint64_t w0 = now_us();
  if (mode != M_IDLE) run_phase((uint64_t)duration_ms * 1000);
  double el = (now_us() - w0) / 1e6, gc = cpu_s() - c0;
  uint64_t units = mode == M_HANDSHAKE ? handshakes : mode == M_FANOUT ? deliveries : recvd;
  printf("DONE {\"units\":%llu,\"sent\":%llu,\"msgs\":%llu,\"deliveries\":%llu,\"bytes_in\":%llu,\"elapsed_s\":%.6f,"
         "\"gen_cpu_s\":%.6f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"lost\":%llu,\"errors\":%llu,\"failed\":%llu,"
         "\"open\":%llu,\"ext\":%llu,\"pongs\":%llu,\"rsv1_msgs\":%llu,\"mismatches\":%llu,\"reads\":%llu}\n",
         (unsigned long long)units, (unsigned long long)sent, (unsigned long long)recvd,
         (unsigned long long)deliveries, (unsigned long long)bytes_in, el, gc, hist_pct(0.5), hist_pct(0.99),
         (unsigned long long)(mode == M_HANDSHAKE ? 0 : inflight), (unsigned long long)(errors - err0),
         (unsigned long long)(failed - fail0), (unsigned long long)opened, (unsigned long long)ext_ok,
         (unsigned long long)pongs, (unsigned long long)rsv1_in, (unsigned long long)mismatches, (unsigned long long)reads);
  fflush(stdout);
  wait_stdin();
  return 0;
}
