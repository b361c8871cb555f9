/* source-file: one file's bytes: raw (local fd or HTTP), then decompressed
 * (zlib, libzstd, libbz2), then the BOM dropped and Latin-1 made UTF-8. */
#include <bzlib.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "http.h"
#include "input.h"

#define IN_CAP (256u << 10)

typedef enum { C_NONE, C_GZIP, C_ZSTD, C_BZIP2 } ckind;
static const char *const cnames[] = {"none", "gzip", "zstd", "bzip2"};

struct fin {
  char *name;
  int fd;
  off_t size_at_open; /* local files: a shorter read means the file shrank */
  uint64_t raw_total;
  fhttp *http;
  bool raw_eof;
  ckind kind;
  /* compressed input */
  char *in;
  size_t in_pos, in_len;
  bool frame_open; /* inside a gzip member / zstd frame / bzip2 stream */
  z_stream z;
  ZSTD_DStream *zs;
  bz_stream bz;
  bool z_init, bz_init;
  /* decoding */
  fin_enc enc;
  bool first; /* BOM not checked yet */
  unsigned char *tmp; /* Latin-1 bytes before widening */
};

bool fin_is_http(const char *url) {
  return !strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8);
}

const char *fin_local_path(const char *url) {
  if (!strncasecmp(url, "file://", 7)) {
    url += 7;
    if (!strncasecmp(url, "localhost/", 10)) url += 9;
  }
  return url;
}

const char *fin_name(const fin *f) { return f->name; }
const char *fin_compression(const fin *f) { return cnames[f->kind]; }

static sl_code raw_read(fin *f, char *buf, size_t cap, size_t *got, sl_err *err) {
  *got = 0;
  if (f->raw_eof) return SL_EOK;
  if (f->http) {
    sl_code rc = fhttp_read(f->http, buf, cap, got, err);
    if (rc) return rc;
  } else {
    ssize_t n;
    do n = read(f->fd, buf, cap);
    while (n < 0 && errno == EINTR);
    if (n < 0) return sl_err_set(err, SL_EIO, "%s: read: %s", f->name, strerror(errno));
    *got = (size_t)n;
    if (!n && f->size_at_open >= 0 && (off_t)f->raw_total < f->size_at_open)
      return sl_err_set(err, SL_EIO, "%s: the file shrank while it was read (%llu of %lld bytes read)",
                        f->name, (unsigned long long)f->raw_total, (long long)f->size_at_open);
  }
  f->raw_total += *got;
  if (!*got) f->raw_eof = true;
  return SL_EOK;
}

/* Refill the compressed input when it is used up. */
static sl_code fill(fin *f, sl_err *err) {
  if (f->in_pos < f->in_len || f->raw_eof) return SL_EOK;
  f->in_pos = 0;
  return raw_read(f, f->in, IN_CAP, &f->in_len, err);
}

static ckind sniff(const unsigned char *p, size_t n) {
  if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) return C_GZIP;
  if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) return C_ZSTD;
  if (n >= 4 && p[0] == 'B' && p[1] == 'Z' && p[2] == 'h' && p[3] >= '1' && p[3] <= '9') return C_BZIP2;
  return C_NONE;
}

static sl_code truncated(fin *f, sl_err *err) {
  return sl_err_set(err, SL_EIO, "%s: the %s data is truncated (it ends after %llu bytes inside a %s)",
                    f->name, cnames[f->kind], (unsigned long long)f->raw_total,
                    f->kind == C_GZIP ? "gzip member" : f->kind == C_ZSTD ? "zstd frame" : "bzip2 stream");
}

/* One step of decompression into out; *got may be 0 before the end. */
static sl_code inflate_some(fin *f, char *out, size_t cap, size_t *got, sl_err *err) {
  *got = 0;
  sl_code rc = fill(f, err);
  if (rc) return rc;
  size_t avail = f->in_len - f->in_pos;
  if (!avail && !f->frame_open) return SL_EOK;
  f->frame_open = true;
  const char *src = f->in + f->in_pos;
  if (f->kind == C_GZIP) {
    f->z.next_in = (Bytef *)src;
    f->z.avail_in = (uInt)avail;
    f->z.next_out = (Bytef *)out;
    f->z.avail_out = (uInt)cap;
    int zr = inflate(&f->z, Z_NO_FLUSH);
    f->in_pos += avail - f->z.avail_in;
    *got = cap - f->z.avail_out;
    if (zr == Z_STREAM_END) {
      f->frame_open = false;
      inflateReset(&f->z); /* concatenated members continue the file */
    } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
      return sl_err_set(err, SL_EIO, "%s: the gzip data is corrupt near compressed byte %llu: %s",
                        f->name, (unsigned long long)(f->raw_total - (f->in_len - f->in_pos)),
                        f->z.msg ? f->z.msg : "inflate failed");
    }
  } else if (f->kind == C_ZSTD) {
    ZSTD_inBuffer ib = {src, avail, 0};
    ZSTD_outBuffer ob = {out, cap, 0};
    size_t zr = ZSTD_decompressStream(f->zs, &ob, &ib);
    f->in_pos += ib.pos;
    *got = ob.pos;
    if (ZSTD_isError(zr))
      return sl_err_set(err, SL_EIO, "%s: the zstd data is corrupt: %s", f->name, ZSTD_getErrorName(zr));
    if (zr == 0) f->frame_open = false;
  } else {
    f->bz.next_in = (char *)src;
    f->bz.avail_in = (unsigned)avail;
    f->bz.next_out = out;
    f->bz.avail_out = (unsigned)cap;
    int br = BZ2_bzDecompress(&f->bz);
    f->in_pos += avail - f->bz.avail_in;
    *got = cap - f->bz.avail_out;
    if (br == BZ_STREAM_END) {
      f->frame_open = false;
      BZ2_bzDecompressEnd(&f->bz);
      memset(&f->bz, 0, sizeof f->bz);
      if (BZ2_bzDecompressInit(&f->bz, 0, 0) != BZ_OK) {
        f->bz_init = false;
        return sl_err_set(err, SL_ENOMEM, "%s: bzip2: out of memory", f->name);
      }
    } else if (br != BZ_OK) {
      return sl_err_set(err, SL_EIO, "%s: the bzip2 data is corrupt (libbz2 error %d)", f->name, br);
    }
  }
  /* No input left, no output made, and the frame is not over. */
  if (!avail && !*got && f->frame_open) return truncated(f, err);
  return SL_EOK;
}

/* Decompressed bytes; *got == 0 only at the end. */
static sl_code decoded_read(fin *f, char *out, size_t cap, size_t *got, sl_err *err) {
  if (f->kind == C_NONE) {
    if (f->in_pos < f->in_len) { /* the bytes read to sniff */
      size_t n = f->in_len - f->in_pos < cap ? f->in_len - f->in_pos : cap;
      memcpy(out, f->in + f->in_pos, n);
      f->in_pos += n;
      *got = n;
      return SL_EOK;
    }
    return raw_read(f, out, cap, got, err);
  }
  for (;;) {
    sl_code rc = inflate_some(f, out, cap, got, err);
    if (rc || *got || (f->raw_eof && f->in_pos == f->in_len && !f->frame_open)) return rc;
  }
}

sl_code fin_read(fin *f, char *buf, size_t cap, size_t *got, sl_err *err) {
  *got = 0;
  sl_code rc;
  if (f->enc == FIN_LATIN1) {
    size_t half = cap / 2, n;
    if (!f->tmp && !(f->tmp = malloc(IN_CAP))) return sl_err_set(err, SL_ENOMEM, "out of memory");
    if (half > IN_CAP) half = IN_CAP;
    if ((rc = decoded_read(f, (char *)f->tmp, half, &n, err))) return rc;
    /* Latin-1 is the first 256 code points: one table-free widening. */
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
      unsigned char c = f->tmp[i];
      if (c < 0x80) buf[o++] = (char)c;
      else {
        buf[o++] = (char)(0xc0 | (c >> 6));
        buf[o++] = (char)(0x80 | (c & 0x3f));
      }
    }
    *got = o;
    return SL_EOK;
  }
  if ((rc = decoded_read(f, buf, cap, got, err))) return rc;
  if (f->first) {
    /* A BOM is not data. A first read shorter than one (HTTP may deliver a
     * byte at a time) is completed before deciding. */
    while (*got < 3 && *got && !memcmp(buf, "\xef\xbb\xbf", *got)) {
      size_t more;
      if ((rc = decoded_read(f, buf + *got, cap - *got, &more, err))) return rc;
      if (!more) break;
      *got += more;
    }
    f->first = false;
    if (*got >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) {
      memmove(buf, buf + 3, *got - 3);
      *got -= 3;
      if (!*got) return fin_read(f, buf, cap, got, err);
    }
  }
  return SL_EOK;
}

static sl_code start_decoder(fin *f, const char *compression, sl_err *err) {
  if (!strcmp(compression, "none")) return SL_EOK;
  sl_code rc = fill(f, err);
  if (rc) return rc;
  ckind k = sniff((unsigned char *)f->in, f->in_len);
  if (strcmp(compression, "auto")) {
    ckind want = !strcmp(compression, "gzip") ? C_GZIP : !strcmp(compression, "zstd") ? C_ZSTD : C_BZIP2;
    if (k != want && f->in_len)
      return sl_err_set(err, SL_ECONFIG, "%s: compression is set to %s but the file does not start like %s data",
                        f->name, compression, compression);
    k = want;
  }
  f->kind = k;
  if (k == C_GZIP) {
    if (inflateInit2(&f->z, 15 + 32) != Z_OK) return sl_err_set(err, SL_ENOMEM, "zlib: out of memory");
    f->z_init = true;
  } else if (k == C_ZSTD) {
    if (!(f->zs = ZSTD_createDStream())) return sl_err_set(err, SL_ENOMEM, "zstd: out of memory");
    ZSTD_initDStream(f->zs);
  } else if (k == C_BZIP2) {
    if (BZ2_bzDecompressInit(&f->bz, 0, 0) != BZ_OK) return sl_err_set(err, SL_ENOMEM, "bzip2: out of memory");
    f->bz_init = true;
  }
  return SL_EOK;
}

sl_code fin_open(fin **out, const char *url, const char *compression, fin_enc enc, sl_err *err) {
  *out = NULL;
  fin *f = calloc(1, sizeof *f);
  if (!f || !(f->name = strdup(url)) || !(f->in = malloc(IN_CAP))) {
    if (f) free(f->name);
    free(f);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  f->fd = -1;
  f->size_at_open = -1;
  f->enc = enc;
  f->first = true;
  sl_code rc;
  if (fin_is_http(url)) {
    rc = fhttp_open(&f->http, url, err);
  } else {
    const char *path = fin_local_path(url);
    struct stat sb;
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0)
      rc = sl_err_set(err, errno == ENOENT ? SL_ENOTFOUND : SL_EIO, "cannot open %s: %s", path, strerror(errno));
    else if (fstat(f->fd, &sb) || S_ISDIR(sb.st_mode))
      rc = sl_err_set(err, SL_ECONFIG, "%s is a directory, not a file", path);
    else {
      if (S_ISREG(sb.st_mode)) f->size_at_open = sb.st_size;
      rc = SL_EOK;
    }
  }
  if (!rc) rc = start_decoder(f, compression ? compression : "auto", err);
  if (rc) {
    fin_close(f);
    return rc;
  }
  *out = f;
  return SL_EOK;
}

void fin_close(fin *f) {
  if (!f) return;
  if (f->fd >= 0) close(f->fd);
  fhttp_close(f->http);
  if (f->z_init) inflateEnd(&f->z);
  if (f->zs) ZSTD_freeDStream(f->zs);
  if (f->bz_init) BZ2_bzDecompressEnd(&f->bz);
  free(f->in);
  free(f->tmp);
  free(f->name);
  free(f);
}
