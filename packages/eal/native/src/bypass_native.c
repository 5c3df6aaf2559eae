/*
 * bypass_native: the one native addon of bypass (see DESIGN.md, "Drivers that touch the real
 * world"). Plain C, Node-API only, Linux syscalls only; everything above the syscall line is
 * TypeScript (packages/eal/src/native.ts loads this file and types it).
 *
 * Exports (all act on the CALLING thread, which in a worker_thread is that worker's own
 * OS thread):
 *   setAffinity(cpus: number[]): void   sched_setaffinity(0, ...): pins the calling thread
 *   getAffinity(): number[]             sched_getaffinity(0, ...), ascending CPU numbers
 *   gettid(): number                    the calling thread's kernel thread id
 *   cpuCount(): number                  online CPUs, sysconf(_SC_NPROCESSORS_ONLN)
 *
 * and the TAP syscalls of the tap poll-mode driver (packages/pmd), declared in native.ts's
 * NativeAddon with their full contracts:
 *   tapOpen(ifname, queues, vnetHdr): number[]      open /dev/net/tun + TUNSETIFF, one fd a queue
 *   tapSetPersist(fd, persist)                      TUNSETPERSIST
 *   tapSetOffload(fd, flags)                        TUNSETOFFLOAD (TUN_F_* bits)
 *   tapSetVnetHdrSize(fd, size)                     TUNSETVNETHDRSZ
 *   tapRead(fd, buf, offsets, capacity, lens, max)  read(2) per frame until EAGAIN or max
 *   tapWrite(fd, buf, offsets, lens, n)             write(2) per frame until EAGAIN or n
 *   closeFd(fd)                                     close(2)
 *   ifSetUp / ifSetMtu / ifSetMac / ifGetMac / ifIndex   SIOC*IF* ioctls on an AF_INET socket
 * The fds are the process's own; any thread may use them. tapRead and tapWrite copy nothing
 * themselves: the kernel's read(2)/write(2) move the bytes straight between its skb and the
 * caller's buffer (mbuf memory, a SharedArrayBuffer), and they allocate nothing but the
 * returned number.
 *
 * Failed syscalls throw an Error shaped like Node's system errors: message
 * "<syscall>: <strerror> (<code>)" ("<syscall> <what>: ..." where naming the ioctl or the
 * interface helps), and properties code ("EINVAL", ...), errno and syscall (the bare name:
 * "open", "ioctl", "read", ...). Bad arguments throw TypeError (wrong type) or RangeError
 * (out of range) whose message starts "<function>: <argument> ...", code ERR_INVALID_ARG_TYPE
 * or ERR_OUT_OF_RANGE.
 *
 * The module keeps no global state and registers with NAPI_MODULE_INIT, so Node treats it as
 * context-aware: it loads in the main thread and in any number of workers at once.
 * Limit: CPU sets are fixed-size cpu_set_t, so CPUs numbered >= CPU_SETSIZE (1024) are not
 * supported (sched_getaffinity fails with EINVAL on such machines).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <node_api.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/if_tun.h>

/* Returns NULL from the enclosing function if a Node-API call fails. A failing call has
 * usually left an exception pending; if not, raise a generic one so JS never sees a silent
 * undefined. */
#define NAPI_CALL(env, call)                                                                   \
  do {                                                                                         \
    if ((call) != napi_ok) {                                                                   \
      bool pending = false;                                                                    \
      napi_is_exception_pending((env), &pending);                                              \
      if (!pending) napi_throw_error((env), NULL, "bypass_native: Node-API call failed: " #call); \
      return NULL;                                                                             \
    }                                                                                          \
  } while (0)

/* The errno names the code property carries; others get "E<number>". */
static const char *errno_name(int err, char *buf, size_t len) {
  switch (err) {
    case EPERM: return "EPERM";
    case ESRCH: return "ESRCH";
    case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL";
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case EBUSY: return "EBUSY";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case E2BIG: return "E2BIG";
    case ENOMEM: return "ENOMEM";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOTTY: return "ENOTTY";
    case ENOSPC: return "ENOSPC";
    case ENOSYS: return "ENOSYS";
    case EBADFD: return "EBADFD";
    case EMSGSIZE: return "EMSGSIZE";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENETDOWN: return "ENETDOWN";
    case ENOBUFS: return "ENOBUFS";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    default: snprintf(buf, len, "E%d", err); return buf;
  }
}

/* Throws a system error for `syscall_name` failing with `err`; always returns NULL. `what`
 * (NULL for none) follows the syscall's name in the message: the ioctl, the path, the
 * interface. */
static napi_value throw_errno_what(napi_env env, const char *syscall_name, const char *what,
                                   int err) {
  char text[320], namebuf[16];
  const char *name = errno_name(err, namebuf, sizeof namebuf);
  /* glibc's and musl's strerror return static strings for known errors: safe across workers. */
  snprintf(text, sizeof text, "%s%s%s: %s (%s)", syscall_name, what ? " " : "", what ? what : "",
           strerror(err), name);
  napi_value msg, code, error, errno_value, syscall_value;
  NAPI_CALL(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg));
  NAPI_CALL(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code));
  NAPI_CALL(env, napi_create_error(env, code, msg, &error));
  NAPI_CALL(env, napi_create_int32(env, err, &errno_value));
  NAPI_CALL(env, napi_set_named_property(env, error, "errno", errno_value));
  NAPI_CALL(env, napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &syscall_value));
  NAPI_CALL(env, napi_set_named_property(env, error, "syscall", syscall_value));
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_errno(napi_env env, const char *syscall_name, int err) {
  return throw_errno_what(env, syscall_name, NULL, err);
}

/* setAffinity(cpus: number[]): pins the calling thread to exactly the CPUs listed. */
static napi_value set_affinity(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_array = false;
  if (argc >= 1) NAPI_CALL(env, napi_is_array(env, argv[0], &is_array));
  if (!is_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "setAffinity: cpus must be an array");
    return NULL;
  }
  uint32_t n = 0;
  NAPI_CALL(env, napi_get_array_length(env, argv[0], &n));
  if (n == 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "setAffinity: cpus must not be empty");
    return NULL;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  for (uint32_t i = 0; i < n; i++) {
    napi_value element;
    double cpu = -1;
    NAPI_CALL(env, napi_get_element(env, argv[0], i, &element));
    /* A non-number leaves cpu at -1 and fails the range check below. */
    napi_get_value_double(env, element, &cpu);
    if (!(cpu >= 0 && cpu < CPU_SETSIZE && cpu == (double)(int)cpu)) {
      char text[128];
      snprintf(text, sizeof text, "setAffinity: cpus[%u] must be an integer from 0 to %d", i,
               CPU_SETSIZE - 1);
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", text);
      return NULL;
    }
    CPU_SET((int)cpu, &set);
  }
  /* pid 0 = the calling thread (Linux affinity is per thread, not per process). */
  if (sched_setaffinity(0, sizeof set, &set) != 0) return throw_errno(env, "sched_setaffinity", errno);
  return NULL; /* undefined */
}

/* getAffinity(): the CPUs the calling thread may run on, ascending. */
static napi_value get_affinity(napi_env env, napi_callback_info info) {
  (void)info;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return throw_errno(env, "sched_getaffinity", errno);
  napi_value result;
  NAPI_CALL(env, napi_create_array(env, &result));
  uint32_t next = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, &set)) continue;
    napi_value value;
    NAPI_CALL(env, napi_create_int32(env, cpu, &value));
    NAPI_CALL(env, napi_set_element(env, result, next++, value));
  }
  return result;
}

/* gettid(): the kernel thread id (glibc < 2.30 has no gettid() wrapper, so use syscall). */
static napi_value get_tid(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  NAPI_CALL(env, napi_create_int64(env, (int64_t)syscall(SYS_gettid), &result));
  return result;
}

/* cpuCount(): CPUs online now (not the calling thread's allowed set). */
static napi_value cpu_count(napi_env env, napi_callback_info info) {
  (void)info;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 0) return throw_errno(env, "sysconf", errno);
  napi_value result;
  NAPI_CALL(env, napi_create_int64(env, (int64_t)n, &result));
  return result;
}

/* ---------------------------------------------------------------------------------------- */
/* Argument checking for the TAP and interface functions.                                    */
/* Each helper throws (TypeError for a wrong type, RangeError for a value out of range, the  */
/* message starting "<fn>: <argument>") and returns false, or returns true with the value.   */

static void throw_range(napi_env env, const char *text) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", text);
}

static bool arg_int(napi_env env, napi_value value, const char *fn, const char *name,
                    int64_t min, int64_t max, int64_t *out) {
  napi_valuetype type = napi_undefined;
  if (value) napi_typeof(env, value, &type);
  char text[256];
  if (type != napi_number) {
    snprintf(text, sizeof text, "%s: %s must be a number (an integer from %lld to %lld)", fn,
             name, (long long)min, (long long)max);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", text);
    return false;
  }
  double d = 0;
  napi_get_value_double(env, value, &d);
  if (!(d >= (double)min && d <= (double)max && d == (double)(int64_t)d)) {
    snprintf(text, sizeof text, "%s: %s must be an integer from %lld to %lld, got %.17g", fn, name,
             (long long)min, (long long)max, d);
    throw_range(env, text);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

static bool arg_fd(napi_env env, napi_value value, const char *fn, int *out) {
  int64_t fd = 0;
  if (!arg_int(env, value, fn, "fd", 0, INT_MAX, &fd)) return false;
  *out = (int)fd;
  return true;
}

static bool arg_bool(napi_env env, napi_value value, const char *fn, const char *name, bool *out) {
  napi_valuetype type = napi_undefined;
  if (value) napi_typeof(env, value, &type);
  if (type != napi_boolean) {
    char text[128];
    snprintf(text, sizeof text, "%s: %s must be a boolean", fn, name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", text);
    return false;
  }
  napi_get_value_bool(env, value, out);
  return true;
}

/* An interface name: 1 to IFNAMSIZ - 1 (15) bytes of UTF-8, no NUL; out gets it NUL-padded. */
static bool arg_ifname(napi_env env, napi_value value, const char *fn, char out[IFNAMSIZ]) {
  napi_valuetype type = napi_undefined;
  if (value) napi_typeof(env, value, &type);
  char text[160];
  if (type != napi_string) {
    snprintf(text, sizeof text, "%s: ifname must be a string", fn);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", text);
    return false;
  }
  size_t len = 0;
  napi_get_value_string_utf8(env, value, NULL, 0, &len);
  if (len == 0 || len >= IFNAMSIZ) {
    snprintf(text, sizeof text, "%s: ifname must be 1 to %d bytes long, got %zu", fn,
             IFNAMSIZ - 1, len);
    throw_range(env, text);
    return false;
  }
  memset(out, 0, IFNAMSIZ);
  napi_get_value_string_utf8(env, value, out, IFNAMSIZ, &len);
  if (strlen(out) != len) {
    snprintf(text, sizeof text, "%s: ifname must not contain NUL characters", fn);
    throw_range(env, text);
    return false;
  }
  return true;
}

/* A typed array of exactly `want` (Uint8Array, Uint32Array): its data pointer and length in
 * elements. napi_get_typedarray_info's data is the view's first element (byte offset already
 * applied) and works the same for views over an ArrayBuffer and over a SharedArrayBuffer. */
static bool arg_typed(napi_env env, napi_value value, const char *fn, const char *name,
                      napi_typedarray_type want, const char *want_name, void **data,
                      size_t *length) {
  bool is_typed = false;
  napi_typedarray_type type = napi_int8_array;
  if (value) napi_is_typedarray(env, value, &is_typed);
  if (is_typed) {
    *data = NULL;
    *length = 0;
    if (napi_get_typedarray_info(env, value, &type, length, data, NULL, NULL) != napi_ok) {
      is_typed = false;
    }
  }
  if (!is_typed || type != want) {
    char text[160];
    snprintf(text, sizeof text, "%s: %s must be a %s", fn, name, want_name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", text);
    return false;
  }
  return true;
}

static napi_value make_uint32(napi_env env, uint32_t n) {
  napi_value result;
  NAPI_CALL(env, napi_create_uint32(env, n, &result));
  return result;
}

/* ---------------------------------------------------------------------------------------- */
/* TAP queues                                                                                */

#define TAP_MAX_QUEUES 256 /* the kernel's MAX_TAP_QUEUES */

static void close_all(const int *fds, int n) {
  for (int i = 0; i < n; i++) close(fds[i]);
}

/* tapOpen(ifname, queues, vnetHdr): number[] */
static napi_value tap_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3] = {NULL, NULL, NULL};
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char ifname[IFNAMSIZ];
  int64_t queues = 0;
  bool vnet = false;
  if (!arg_ifname(env, argv[0], "tapOpen", ifname)) return NULL;
  if (!arg_int(env, argv[1], "tapOpen", "queues", 1, TAP_MAX_QUEUES, &queues)) return NULL;
  if (!arg_bool(env, argv[2], "tapOpen", "vnetHdr", &vnet)) return NULL;

  int fds[TAP_MAX_QUEUES];
  char what[IFNAMSIZ + 16];
  snprintf(what, sizeof what, "TUNSETIFF %s", ifname);
  for (int i = 0; i < (int)queues; i++) {
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      close_all(fds, i);
      return throw_errno_what(env, "open", "/dev/net/tun", err);
    }
    /* The first TUNSETIFF creates the interface (if it does not exist), each one attaches
     * this fd as one more queue. */
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, ifname, IFNAMSIZ);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE | (vnet ? IFF_VNET_HDR : 0);
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
      int err = errno;
      close(fd);
      close_all(fds, i);
      return throw_errno_what(env, "ioctl", what, err);
    }
    fds[i] = fd;
  }
  napi_value result = NULL;
  bool ok = napi_create_array_with_length(env, (size_t)queues, &result) == napi_ok;
  for (int i = 0; ok && i < (int)queues; i++) {
    napi_value value;
    ok = napi_create_int32(env, fds[i], &value) == napi_ok &&
         napi_set_element(env, result, (uint32_t)i, value) == napi_ok;
  }
  if (!ok) {
    close_all(fds, (int)queues); /* nobody could close them otherwise */
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, NULL, "tapOpen: cannot create the array of fds");
    return NULL;
  }
  return result;
}

/* An ioctl on a tap fd whose argument is passed by value (TUNSETPERSIST, TUNSETOFFLOAD):
 * (fd, value), value a boolean when max is 1, else an integer from 0 to max. */
static napi_value tap_ioctl_value(napi_env env, napi_callback_info info, const char *fn,
                                  const char *name, int64_t max, unsigned long request,
                                  const char *request_name) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL};
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd = -1;
  int64_t value = 0;
  if (!arg_fd(env, argv[0], fn, &fd)) return NULL;
  if (max == 1) {
    bool b = false;
    if (!arg_bool(env, argv[1], fn, name, &b)) return NULL;
    value = b;
  } else if (!arg_int(env, argv[1], fn, name, 0, max, &value)) {
    return NULL;
  }
  if (ioctl(fd, request, (unsigned long)value) != 0) {
    return throw_errno_what(env, "ioctl", request_name, errno);
  }
  return NULL;
}

/* tapSetPersist(fd, persist) */
static napi_value tap_set_persist(napi_env env, napi_callback_info info) {
  return tap_ioctl_value(env, info, "tapSetPersist", "persist", 1, TUNSETPERSIST,
                         "TUNSETPERSIST");
}

/* tapSetOffload(fd, flags): TUN_F_* bits; the kernel refuses unknown ones (EINVAL). */
static napi_value tap_set_offload(napi_env env, napi_callback_info info) {
  return tap_ioctl_value(env, info, "tapSetOffload", "flags", UINT32_MAX, TUNSETOFFLOAD,
                         "TUNSETOFFLOAD");
}

/* tapSetVnetHdrSize(fd, size): the kernel refuses sizes below 10 (EINVAL). */
static napi_value tap_set_vnet_hdr_size(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL};
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd = -1;
  int64_t size = 0;
  if (!arg_fd(env, argv[0], "tapSetVnetHdrSize", &fd)) return NULL;
  if (!arg_int(env, argv[1], "tapSetVnetHdrSize", "size", 0, INT_MAX, &size)) return NULL;
  int sz = (int)size;
  if (ioctl(fd, TUNSETVNETHDRSZ, &sz) != 0) {
    return throw_errno_what(env, "ioctl", "TUNSETVNETHDRSZ", errno);
  }
  return NULL;
}

/* tapRead(fd, buf, offsets, capacity, lens, max): number */
static napi_value tap_read(napi_env env, napi_callback_info info) {
  static const char fn[] = "tapRead";
  size_t argc = 6;
  napi_value argv[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd = -1;
  uint8_t *buf = NULL;
  uint32_t *offsets = NULL, *lens = NULL;
  size_t buf_len = 0, offsets_len = 0, lens_len = 0;
  int64_t capacity = 0, max = 0;
  if (!arg_fd(env, argv[0], fn, &fd) ||
      !arg_typed(env, argv[1], fn, "buf", napi_uint8_array, "Uint8Array", (void **)&buf,
                 &buf_len) ||
      !arg_typed(env, argv[2], fn, "offsets", napi_uint32_array, "Uint32Array",
                 (void **)&offsets, &offsets_len) ||
      !arg_int(env, argv[3], fn, "capacity", 1, UINT32_MAX, &capacity) ||
      !arg_typed(env, argv[4], fn, "lens", napi_uint32_array, "Uint32Array", (void **)&lens,
                 &lens_len) ||
      !arg_int(env, argv[5], fn, "max", 0, UINT32_MAX, &max)) {
    return NULL;
  }
  char text[200];
  if ((size_t)max > offsets_len || (size_t)max > lens_len) {
    snprintf(text, sizeof text, "%s: max (%lld) exceeds %s.length (%zu)", fn, (long long)max,
             (size_t)max > offsets_len ? "offsets" : "lens",
             (size_t)max > offsets_len ? offsets_len : lens_len);
    throw_range(env, text);
    return NULL;
  }
  for (uint32_t i = 0; i < (uint32_t)max; i++) {
    if ((uint64_t)offsets[i] + (uint64_t)capacity > buf_len) {
      snprintf(text, sizeof text,
               "%s: offsets[%u] + capacity (%llu) is past the end of buf (length %zu)", fn, i,
               (unsigned long long)offsets[i] + (unsigned long long)capacity, buf_len);
      throw_range(env, text);
      return NULL;
    }
  }
  uint32_t count = 0;
  while (count < (uint32_t)max) {
    /* offsets may be shared memory another thread writes: load each one once and check it
     * again, so a racing writer can end the batch early but never aim read(2) outside buf. */
    uint32_t off = __atomic_load_n(&offsets[count], __ATOMIC_RELAXED);
    if ((uint64_t)off + (uint64_t)capacity > buf_len) break;
    ssize_t n = read(fd, buf + off, (size_t)capacity);
    if (n >= 0) {
      lens[count++] = (uint32_t)n;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    /* Frames already read are the caller's now: return them; the error comes again on the
     * next call. */
    if (count > 0) break;
    return throw_errno(env, "read", errno);
  }
  return make_uint32(env, count);
}

/* tapWrite(fd, buf, offsets, lens, n): number */
static napi_value tap_write(napi_env env, napi_callback_info info) {
  static const char fn[] = "tapWrite";
  size_t argc = 5;
  napi_value argv[5] = {NULL, NULL, NULL, NULL, NULL};
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd = -1;
  uint8_t *buf = NULL;
  uint32_t *offsets = NULL, *lens = NULL;
  size_t buf_len = 0, offsets_len = 0, lens_len = 0;
  int64_t n = 0;
  if (!arg_fd(env, argv[0], fn, &fd) ||
      !arg_typed(env, argv[1], fn, "buf", napi_uint8_array, "Uint8Array", (void **)&buf,
                 &buf_len) ||
      !arg_typed(env, argv[2], fn, "offsets", napi_uint32_array, "Uint32Array",
                 (void **)&offsets, &offsets_len) ||
      !arg_typed(env, argv[3], fn, "lens", napi_uint32_array, "Uint32Array", (void **)&lens,
                 &lens_len) ||
      !arg_int(env, argv[4], fn, "n", 0, UINT32_MAX, &n)) {
    return NULL;
  }
  char text[200];
  if ((size_t)n > offsets_len || (size_t)n > lens_len) {
    snprintf(text, sizeof text, "%s: n (%lld) exceeds %s.length (%zu)", fn, (long long)n,
             (size_t)n > offsets_len ? "offsets" : "lens",
             (size_t)n > offsets_len ? offsets_len : lens_len);
    throw_range(env, text);
    return NULL;
  }
  for (uint32_t i = 0; i < (uint32_t)n; i++) {
    if ((uint64_t)offsets[i] + (uint64_t)lens[i] > buf_len) {
      snprintf(text, sizeof text,
               "%s: offsets[%u] + lens[%u] (%llu) is past the end of buf (length %zu)", fn, i, i,
               (unsigned long long)offsets[i] + (unsigned long long)lens[i], buf_len);
      throw_range(env, text);
      return NULL;
    }
  }
  uint32_t count = 0;
  while (count < (uint32_t)n) {
    /* As in tapRead: one load of each, checked again (shared memory may change under us). */
    uint32_t off = __atomic_load_n(&offsets[count], __ATOMIC_RELAXED);
    uint32_t len = __atomic_load_n(&lens[count], __ATOMIC_RELAXED);
    if ((uint64_t)off + (uint64_t)len > buf_len) break;
    ssize_t w = write(fd, buf + off, len);
    if (w >= 0) {
      count++;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    /* Report what was sent; the failing frame is first in line on the next call, which
     * throws. */
    if (count > 0) break;
    return throw_errno(env, "write", errno);
  }
  return make_uint32(env, count);
}

/* closeFd(fd) */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd = -1;
  if (!arg_fd(env, argv[0], "closeFd", &fd)) return NULL;
  /* On Linux the fd is released even when close reports EINTR: never retry it. */
  if (close(fd) != 0 && errno != EINTR) return throw_errno(env, "close", errno);
  return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Interface control: SIOC*IF* ioctls on an AF_INET datagram socket, in the calling thread's  */
/* network namespace.                                                                        */

/* The socket the ioctls go through, or -1 after throwing. */
static int ctl_socket(napi_env env) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) throw_errno_what(env, "socket", "AF_INET SOCK_DGRAM", errno);
  return s;
}

/* ioctl(s, request, ifr); on failure throws "ioctl <REQUEST> <ifname>: ..." and returns false. */
static bool if_ioctl(napi_env env, int s, unsigned long request, const char *request_name,
                     struct ifreq *ifr) {
  if (ioctl(s, request, ifr) == 0) return true;
  int err = errno;
  char what[64];
  snprintf(what, sizeof what, "%s %s", request_name, ifr->ifr_name);
  throw_errno_what(env, "ioctl", what, err);
  return false;
}

/* Checks the arguments common to the if* functions: ifname first, then `more` arguments. */
static bool if_args(napi_env env, napi_callback_info info, const char *fn, size_t more,
                    napi_value *rest, struct ifreq *ifr) {
  size_t argc = 1 + more;
  napi_value argv[2] = {NULL, NULL};
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "bypass_native: napi_get_cb_info failed");
    return false;
  }
  memset(ifr, 0, sizeof *ifr);
  if (!arg_ifname(env, argv[0], fn, ifr->ifr_name)) return false;
  if (more) *rest = argv[1];
  return true;
}

/* ifSetUp(ifname, up): SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP set or cleared. */
static napi_value if_set_up(napi_env env, napi_callback_info info) {
  struct ifreq ifr;
  napi_value arg = NULL;
  bool up = false;
  if (!if_args(env, info, "ifSetUp", 1, &arg, &ifr)) return NULL;
  if (!arg_bool(env, arg, "ifSetUp", "up", &up)) return NULL;
  int s = ctl_socket(env);
  if (s < 0) return NULL;
  if (if_ioctl(env, s, SIOCGIFFLAGS, "SIOCGIFFLAGS", &ifr)) {
    if (up) {
      ifr.ifr_flags |= IFF_UP;
    } else {
      ifr.ifr_flags &= ~IFF_UP;
    }
    if_ioctl(env, s, SIOCSIFFLAGS, "SIOCSIFFLAGS", &ifr);
  }
  close(s);
  return NULL;
}

/* ifSetMtu(ifname, mtu) */
static napi_value if_set_mtu(napi_env env, napi_callback_info info) {
  struct ifreq ifr;
  napi_value arg = NULL;
  int64_t mtu = 0;
  if (!if_args(env, info, "ifSetMtu", 1, &arg, &ifr)) return NULL;
  if (!arg_int(env, arg, "ifSetMtu", "mtu", 0, INT_MAX, &mtu)) return NULL;
  int s = ctl_socket(env);
  if (s < 0) return NULL;
  ifr.ifr_mtu = (int)mtu;
  if_ioctl(env, s, SIOCSIFMTU, "SIOCSIFMTU", &ifr);
  close(s);
  return NULL;
}

/* ifSetMac(ifname, mac: 6-byte Uint8Array) */
static napi_value if_set_mac(napi_env env, napi_callback_info info) {
  struct ifreq ifr;
  napi_value arg = NULL;
  uint8_t *mac = NULL;
  size_t mac_len = 0;
  if (!if_args(env, info, "ifSetMac", 1, &arg, &ifr)) return NULL;
  if (!arg_typed(env, arg, "ifSetMac", "mac", napi_uint8_array, "Uint8Array", (void **)&mac,
                 &mac_len)) {
    return NULL;
  }
  if (mac_len != 6) {
    char text[96];
    snprintf(text, sizeof text, "ifSetMac: mac must be 6 bytes long, got %zu", mac_len);
    throw_range(env, text);
    return NULL;
  }
  int s = ctl_socket(env);
  if (s < 0) return NULL;
  ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
  memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
  if_ioctl(env, s, SIOCSIFHWADDR, "SIOCSIFHWADDR", &ifr);
  close(s);
  return NULL;
}

/* ifGetMac(ifname): Uint8Array(6) */
static napi_value if_get_mac(napi_env env, napi_callback_info info) {
  struct ifreq ifr;
  if (!if_args(env, info, "ifGetMac", 0, NULL, &ifr)) return NULL;
  int s = ctl_socket(env);
  if (s < 0) return NULL;
  bool ok = if_ioctl(env, s, SIOCGIFHWADDR, "SIOCGIFHWADDR", &ifr);
  close(s);
  if (!ok) return NULL;
  napi_value ab, result;
  void *data = NULL;
  NAPI_CALL(env, napi_create_arraybuffer(env, 6, &data, &ab));
  memcpy(data, ifr.ifr_hwaddr.sa_data, 6);
  NAPI_CALL(env, napi_create_typedarray(env, napi_uint8_array, 6, ab, 0, &result));
  return result;
}

/* ifIndex(ifname): number */
static napi_value if_index(napi_env env, napi_callback_info info) {
  struct ifreq ifr;
  if (!if_args(env, info, "ifIndex", 0, NULL, &ifr)) return NULL;
  int s = ctl_socket(env);
  if (s < 0) return NULL;
  bool ok = if_ioctl(env, s, SIOCGIFINDEX, "SIOCGIFINDEX", &ifr);
  close(s);
  if (!ok) return NULL;
  return make_uint32(env, (uint32_t)ifr.ifr_ifindex);
}

NAPI_MODULE_INIT() {
  const napi_property_descriptor properties[] = {
      {"setAffinity", NULL, set_affinity, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getAffinity", NULL, get_affinity, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gettid", NULL, get_tid, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cpuCount", NULL, cpu_count, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tapOpen", NULL, tap_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tapSetPersist", NULL, tap_set_persist, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tapSetOffload", NULL, tap_set_offload, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tapSetVnetHdrSize", NULL, tap_set_vnet_hdr_size, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tapRead", NULL, tap_read, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tapWrite", NULL, tap_write, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ifSetUp", NULL, if_set_up, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ifSetMtu", NULL, if_set_mtu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ifSetMac", NULL, if_set_mac, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ifGetMac", NULL, if_get_mac, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ifIndex", NULL, if_index, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof properties / sizeof properties[0],
                                        properties));
  return exports;
}
