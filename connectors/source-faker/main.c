/* source-faker: deterministic fake users, products and purchases.
 *
 * Record i of a stream depends only on (seed, stream, i), so the same seed
 * gives the same data, slices need no bookkeeping, and an incremental read
 * can skip what a state has already seen. updated_at grows with id, so the
 * streams are sorted by their cursor and checkpoint every records_per_slice. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sluice/sluice.h"

static const char spec[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"title\":\"Faker Source Spec\","
    "\"type\":\"object\",\"required\":[],\"additionalProperties\":true,\"properties\":{"
    "\"count\":{\"title\":\"Count\",\"description\":\"How many users to generate (and "
    "purchases)\",\"type\":\"integer\",\"minimum\":1,\"default\":1000,\"order\":0},"
    "\"seed\":{\"title\":\"Seed\",\"description\":\"Same seed, same data; -1 picks one per run\","
    "\"type\":\"integer\",\"default\":-1,\"order\":1},"
    "\"records_per_slice\":{\"title\":\"Records per slice\",\"description\":\"Records between "
    "state checkpoints\",\"type\":\"integer\",\"minimum\":1,\"default\":1000,\"order\":2},"
    "\"always_updated\":{\"title\":\"Always updated\",\"description\":\"When true, every read "
    "re-emits every record with a new updated_at; when false a second incremental read returns "
    "only new records\",\"type\":\"boolean\",\"default\":true,\"order\":3},"
    "\"parallelism\":{\"title\":\"Parallelism\",\"description\":\"Accepted for compatibility "
    "with Airbyte's source-faker; ignored\",\"type\":\"integer\",\"minimum\":1,\"default\":4,"
    "\"order\":4}}}";

#define TS "{\"type\":\"string\",\"format\":\"date-time\",\"airbyte_type\":\"timestamp_with_timezone\"}"
#define TSN "{\"type\":[\"null\",\"string\"],\"format\":\"date-time\",\"airbyte_type\":\"timestamp_with_timezone\"}"

static const char users_schema[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"type\":\"object\","
    "\"properties\":{\"id\":{\"type\":\"integer\"},\"created_at\":" TS ",\"updated_at\":" TS ","
    "\"name\":{\"type\":\"string\"},\"title\":{\"type\":\"string\"},\"age\":{\"type\":\"integer\"},"
    "\"email\":{\"type\":\"string\"},\"telephone\":{\"type\":\"string\"},\"gender\":{\"type\":"
    "\"string\"},\"language\":{\"type\":\"string\"},\"academic_degree\":{\"type\":\"string\"},"
    "\"nationality\":{\"type\":\"string\"},\"occupation\":{\"type\":\"string\"},\"height\":{\"type\":"
    "\"number\"},\"blood_type\":{\"type\":\"string\"},\"weight\":{\"type\":\"integer\"},"
    "\"address\":{\"type\":\"object\",\"properties\":{\"street_number\":{\"type\":\"string\"},"
    "\"street_name\":{\"type\":\"string\"},\"city\":{\"type\":\"string\"},\"state\":{\"type\":"
    "\"string\"},\"postal_code\":{\"type\":\"string\"},\"country_code\":{\"type\":\"string\"}}}}}";

static const char products_schema[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"type\":\"object\","
    "\"properties\":{\"id\":{\"type\":\"integer\"},\"make\":{\"type\":\"string\"},\"model\":"
    "{\"type\":\"string\"},\"year\":{\"type\":\"integer\"},\"price\":{\"type\":\"number\"},"
    "\"created_at\":" TS ",\"updated_at\":" TS "}}";

static const char purchases_schema[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"type\":\"object\","
    "\"properties\":{\"id\":{\"type\":\"integer\"},\"user_id\":{\"type\":\"integer\"},"
    "\"product_id\":{\"type\":\"integer\"},\"created_at\":" TS ",\"updated_at\":" TS ","
    "\"added_to_cart_at\":" TSN ",\"purchased_at\":" TSN ",\"returned_at\":" TSN "}}";

#define N(a) (sizeof(a) / sizeof((a)[0]))
static const char *first_names[] = {"Ada", "Alan", "Grace", "Linus", "Barbara", "Ken", "Margaret",
                                    "Dennis", "Frances", "Edsger", "Radia", "Donald", "Hedy",
                                    "John", "Katherine", "Niklaus", "Shafi", "Tim", "Anita", "Guido"};
static const char *last_names[] = {"Lovelace", "Turing", "Hopper", "Torvalds", "Liskov",
                                   "Thompson", "Hamilton", "Ritchie", "Allen", "Dijkstra",
                                   "Perlman", "Knuth", "Lamarr", "Backus", "Johnson", "Wirth",
                                   "Goldwasser", "Berners-Lee", "Borg", "van Rossum"};
static const char *titles[] = {"Mr.", "Mrs.", "Ms.", "Dr.", "M.Sc.", "PhD"};
static const char *genders[] = {"Female", "Male", "Fluid", "Other"};
static const char *languages[] = {"English", "Français", "Español", "Deutsch", "Português",
                                  "日本語", "Kiswahili", "Svenska"};
static const char *degrees[] = {"Bachelor", "Master", "PhD", "None"};
static const char *nations[] = {"Kenyan", "French", "Chilean", "German", "Brazilian",
                                "Japanese", "Swedish", "Indian", "Canadian", "Nigerian"};
static const char *occupations[] = {"Engineer", "Teacher", "Nurse", "Pilot", "Chef", "Architect",
                                    "Data Engineer", "Librarian", "Farmer", "Carpenter"};
static const char *bloods[] = {"A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"};
static const char *streets[] = {"Main Street", "Elm Road", "Harbour Way", "Quai d'Orsay",
                                "Calle Mayor", "Königsallee", "Rua Augusta", "Sakura-dori"};
static const char *cities[] = {"Nairobi", "Lyon", "Valparaíso", "Hamburg", "Recife", "Osaka",
                               "Uppsala", "Pune", "Winnipeg", "Lagos"};
static const char *states[] = {"Nairobi County", "Rhône", "Valparaíso", "Hamburg", "Pernambuco",
                               "Osaka", "Uppsala", "Maharashtra", "Manitoba", "Lagos"};
static const char *countries[] = {"KE", "FR", "CL", "DE", "BR", "JP", "SE", "IN", "CA", "NG"};
static const char *domains[] = {"example.com", "example.org", "example.net", "mail.test"};
static const char *makes[] = {"Mazda", "Toyota", "Ford", "Volvo", "Fiat", "Kia", "Tesla",
                              "Renault"};
static const char *models[] = {"MX-5", "Corolla", "Focus", "V70", "Panda", "Rio", "Model 3",
                               "Clio"};

typedef struct faker_cfg {
  int64_t count, seed, per_slice;
  bool always_updated;
  int64_t base_s; /* created_at of record 1 */
  int64_t now_us; /* read start, for always_updated */
} faker_cfg;

typedef struct rng {
  uint64_t s;
} rng;

static inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static inline uint64_t next(rng *r) { return mix64(r->s += 0x9e3779b97f4a7c15ull); }
/* Multiply-high instead of %: no division on the hot path. */
static inline uint64_t below(rng *r, uint64_t n) {
  return (uint64_t)(((unsigned __int128)next(r) * n) >> 64);
}
#define PICK(r, a) (a)[below(r, N(a))]

static rng record_rng(const faker_cfg *c, uint64_t stream, int64_t id) {
  rng r = {mix64((uint64_t)c->seed * 0x100000001b3ull ^ (stream << 56) ^ (uint64_t)id)};
  return r;
}

/* "YYYY-MM-DDTHH:MM:SS+00:00" for epoch seconds, without gmtime per call. */
static size_t fmt_ts(char *o, int64_t t) {
  int64_t days = t / 86400, sod = t % 86400;
  if (sod < 0) {
    sod += 86400;
    days--;
  }
  /* civil_from_days (Howard Hinnant's algorithm) */
  int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  int hh = (int)(sod / 3600), mm = (int)(sod / 60 % 60), ss = (int)(sod % 60);
  char *p = o;
  int yy = (int)y;
  *p++ = (char)('0' + yy / 1000 % 10);
  *p++ = (char)('0' + yy / 100 % 10);
  *p++ = (char)('0' + yy / 10 % 10);
  *p++ = (char)('0' + yy % 10);
  *p++ = '-';
  *p++ = (char)('0' + m / 10);
  *p++ = (char)('0' + m % 10);
  *p++ = '-';
  *p++ = (char)('0' + d / 10);
  *p++ = (char)('0' + d % 10);
  *p++ = 'T';
  *p++ = (char)('0' + hh / 10);
  *p++ = (char)('0' + hh % 10);
  *p++ = ':';
  *p++ = (char)('0' + mm / 10);
  *p++ = (char)('0' + mm % 10);
  *p++ = ':';
  *p++ = (char)('0' + ss / 10);
  *p++ = (char)('0' + ss % 10);
  memcpy(p, "+00:00", 6);
  return (size_t)(p + 6 - o);
}

static void put_ts(sl_jw *w, int64_t t) {
  char b[32];
  sl_jw_str(w, b, fmt_ts(b, t));
}
#define rec_ts(w, k, t) (SL__REC_KEY(w, k), put_ts((w), (t)))

static int64_t created_at(const faker_cfg *c, int64_t id) { return c->base_s + id * 37; }

/* Monotonic in id: the cursor order equals the id order. */
/* In microseconds. always_updated: the read's start plus one microsecond
 * per id, so every read is newer than the last and a million records span
 * one second, never the future. Otherwise fixed: a re-read finds nothing new. */
static int64_t updated_at_us(const faker_cfg *c, int64_t id) {
  return c->always_updated ? c->now_us + id : (created_at(c, id) + 3600) * 1000000;
}

/* fmt_ts with a ".ffffff" fraction when there is one. Sorts as time does:
 * "+" sorts before "." so a whole second comes before its fractions. */
static size_t fmt_ts_us(char *o, int64_t us) {
  int64_t sec = us / 1000000, frac = us % 1000000;
  size_t n = fmt_ts(o, sec);
  if (!frac) return n;
  n -= 6; /* the "+00:00" suffix moves after the fraction */
  o[n++] = '.';
  for (int i = 5; i >= 0; i--, frac /= 10) o[n + (size_t)i] = (char)('0' + frac % 10);
  n += 6;
  memcpy(o + n, "+00:00", 6);
  return n + 6;
}

static sl_code load_cfg(const json_t *config, faker_cfg *c) {
  c->count = json_integer_value(json_object_get(config, "count"));
  c->seed = json_integer_value(json_object_get(config, "seed"));
  c->per_slice = json_integer_value(json_object_get(config, "records_per_slice"));
  c->always_updated = json_is_true(json_object_get(config, "always_updated"));
  if (c->seed < 0) c->seed = (int64_t)time(NULL);
  if (c->per_slice < 1) c->per_slice = 1000;
  c->base_s = 1577836800 + (c->seed % 1000) * 86400; /* 2020-01-01 + seed days */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  c->now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
  return SL_EOK;
}

/* First id whose updated_at is past the state's cursor (ids start at 1). */
static int64_t first_new_id(const faker_cfg *c, sl_read *rd, int64_t total) {
  const json_t *st = sl_read_state(rd);
  const char *cur = json_string_value(json_object_get(st, "updated_at"));
  if (!cur) return 1;
  int64_t lo = 1, hi = total + 1; /* binary search: updated_at is monotonic */
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    char b[40];
    b[fmt_ts_us(b, updated_at_us(c, mid))] = 0;
    if (strcmp(b, cur) > 0) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/* upd is the record's updated_at, formatted once for the record and the cursor. */
typedef void (*gen_fn)(sl_jw *w, const faker_cfg *c, int64_t id, const char *upd, size_t ul);

/* Small appenders: snprintf would dominate the per-record cost. */
static char *put_s(char *o, const char *s) {
  size_t n = strlen(s);
  memcpy(o, s, n);
  return o + n;
}
static char *put_u(char *o, uint64_t v, int width) {
  char t[24];
  int n = 0;
  do {
    t[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n < width) t[n++] = '0';
  while (n) *o++ = t[--n];
  return o;
}

static void gen_user(sl_jw *w, const faker_cfg *c, int64_t id, const char *upd, size_t ul) {
  rng r = record_rng(c, 1, id);
  const char *fn = PICK(&r, first_names), *ln = PICK(&r, last_names);
  char name[96], email[160], phone[32], num[12], postal[12], *e;
  e = put_s(put_s(put_s(name, fn), " "), ln);
  size_t nl = (size_t)(e - name);
  e = put_s(put_s(put_s(email, fn), "."), ln);
  e = put_s(put_s(put_u(e, (uint64_t)id, 0), "@"), PICK(&r, domains));
  size_t el = (size_t)(e - email);
  e = put_s(phone, "+1-");
  e = put_s(put_u(e, below(&r, 900) + 100, 3), "-");
  e = put_s(put_u(e, below(&r, 1000), 3), "-");
  e = put_u(e, below(&r, 10000), 4);
  size_t pl = (size_t)(e - phone);
  sl_rec_int(w, "id", id);
  rec_ts(w, "created_at", created_at(c, id));
  sl_rec_strn(w, "updated_at", upd, ul);
  sl_rec_strn(w, "name", name, nl);
  sl_rec_str(w, "title", PICK(&r, titles));
  sl_rec_int(w, "age", 18 + (int64_t)below(&r, 70));
  sl_rec_strn(w, "email", email, el);
  sl_rec_strn(w, "telephone", phone, pl);
  sl_rec_str(w, "gender", PICK(&r, genders));
  sl_rec_str(w, "language", PICK(&r, languages));
  sl_rec_str(w, "academic_degree", PICK(&r, degrees));
  sl_rec_str(w, "nationality", PICK(&r, nations));
  sl_rec_str(w, "occupation", PICK(&r, occupations));
  sl_rec_double(w, "height", 1.5 + (double)below(&r, 50) / 100.0);
  sl_rec_str(w, "blood_type", PICK(&r, bloods));
  sl_rec_int(w, "weight", 45 + (int64_t)below(&r, 70));
  size_t city = below(&r, N(cities));
  size_t numl = (size_t)(put_u(num, below(&r, 999) + 1, 0) - num);
  size_t postl = (size_t)(put_u(postal, below(&r, 100000), 5) - postal);
  sl_rec_obj(w, "address");
  sl_rec_strn(w, "street_number", num, numl);
  sl_rec_str(w, "street_name", PICK(&r, streets));
  sl_rec_str(w, "city", cities[city]);
  sl_rec_str(w, "state", states[city]);
  sl_rec_strn(w, "postal_code", postal, postl);
  sl_rec_str(w, "country_code", countries[city]);
  sl_jw_obj_close(w);
}

static void gen_product(sl_jw *w, const faker_cfg *c, int64_t id, const char *upd, size_t ul) {
  rng r = record_rng(c, 2, id);
  size_t k = below(&r, N(makes));
  sl_rec_int(w, "id", id);
  sl_rec_str(w, "make", makes[k]);
  sl_rec_str(w, "model", models[k]);
  sl_rec_int(w, "year", 1990 + (int64_t)below(&r, 35));
  sl_rec_double(w, "price", (double)(500 + below(&r, 99500)) / 100.0);
  rec_ts(w, "created_at", created_at(c, id));
  sl_rec_strn(w, "updated_at", upd, ul);
}

static void gen_purchase(sl_jw *w, const faker_cfg *c, int64_t id, const char *upd, size_t ul) {
  rng r = record_rng(c, 3, id);
  int64_t t = created_at(c, id);
  sl_rec_int(w, "id", id);
  sl_rec_int(w, "user_id", 1 + (int64_t)below(&r, (uint64_t)c->count));
  sl_rec_int(w, "product_id", 1 + (int64_t)below(&r, 100));
  rec_ts(w, "created_at", t);
  sl_rec_strn(w, "updated_at", upd, ul);
  rec_ts(w, "added_to_cart_at", t + 60);
  uint64_t fate = below(&r, 10);
  if (fate < 8) rec_ts(w, "purchased_at", t + 600);
  else sl_rec_null(w, "purchased_at");
  if (fate == 0) rec_ts(w, "returned_at", t + 86400 * 3);
  else sl_rec_null(w, "returned_at");
}

static sl_code read_gen(sl_read *rd, const sl_cstream *cs, int64_t total, gen_fn gen,
                        sl_err *err) {
  faker_cfg c;
  load_cfg(sl_read_config(rd), &c);
  if (total < 0) total = c.count;
  sl_read_set_checkpoint_interval(rd, (size_t)c.per_slice);
  int64_t from = cs->sync_mode == SL_SYNC_INCREMENTAL ? first_new_id(&c, rd, total) : 1;
  for (int64_t id = from; id <= total; id++) {
    char upd[40];
    size_t ul = fmt_ts_us(upd, updated_at_us(&c, id));
    sl_jw *w = sl_read_record_begin(rd);
    gen(w, &c, id, upd, ul);
    sl_read_cursor_str(rd, upd, ul);
    sl_code rc = sl_read_record_end(rd);
    if (rc) return sl_err_set(err, rc, "writing record %lld: %s", (long long)id, sl_strerror(rc));
  }
  return SL_EOK;
}

static sl_code read_users(sl_read *rd, const sl_cstream *cs, sl_err *err) {
  return read_gen(rd, cs, -1, gen_user, err);
}
static sl_code read_products(sl_read *rd, const sl_cstream *cs, sl_err *err) {
  return read_gen(rd, cs, 100, gen_product, err);
}
static sl_code read_purchases(sl_read *rd, const sl_cstream *cs, sl_err *err) {
  return read_gen(rd, cs, -1, gen_purchase, err);
}

static sl_code check(const json_t *config, sl_err *err) {
  if (json_integer_value(json_object_get(config, "count")) < 1)
    return sl_err_set(err, SL_ECONFIG, "count must be at least 1");
  return SL_EOK;
}

static const char *const pk_id[] = {"id", NULL};

static const sl_stream_def streams[] = {
    {"users", users_schema, SL_SYNC_FULL_REFRESH | SL_SYNC_INCREMENTAL, pk_id, "updated_at", true,
     read_users},
    {"products", products_schema, SL_SYNC_FULL_REFRESH | SL_SYNC_INCREMENTAL, pk_id, "updated_at",
     true, read_products},
    {"purchases", purchases_schema, SL_SYNC_FULL_REFRESH | SL_SYNC_INCREMENTAL, pk_id,
     "updated_at", true, read_purchases},
};

static const sl_source faker = {
    .name = "source-faker",
    .version = "0.1.0",
    .spec_json = spec,
    .documentation_url = "https://docs.sluice.dev/connectors/source-faker",
    .streams = streams,
    .n_streams = N(streams),
    .check = check,
};

int main(int argc, char **argv) { return sl_source_main(&faker, argc, argv); }
