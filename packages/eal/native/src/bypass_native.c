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
 * Failed syscalls throw an Error shaped like Node's system errors: message
 * "<syscall>: <strerror> (<code>)", and properties code ("EINVAL", ...), errno and syscall.
 *
 * The module keeps no global state and registers with NAPI_MODULE_INIT, so Node treats it as
 * context-aware: it loads in the main thread and in any number of workers at once.
 * Limit: CPU sets are fixed-size cpu_set_t, so CPUs numbered >= CPU_SETSIZE (1024) are not
 * supported (sched_getaffinity fails with EINVAL on such machines).
 */
#include <errno.h>
#include <node_api.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

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
    default: snprintf(buf, len, "E%d", err); return buf;
  }
}

/* Throws a system error for `syscall_name` failing with `err`; always returns NULL. */
static napi_value throw_errno(napi_env env, const char *syscall_name, int err) {
  char text[256], namebuf[16];
  const char *name = errno_name(err, namebuf, sizeof namebuf);
  /* glibc's and musl's strerror return static strings for known errors: safe across workers. */
  snprintf(text, sizeof text, "%s: %s (%s)", syscall_name, strerror(err), name);
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

NAPI_MODULE_INIT() {
  const napi_property_descriptor properties[] = {
      {"setAffinity", NULL, set_affinity, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getAffinity", NULL, get_affinity, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gettid", NULL, get_tid, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cpuCount", NULL, cpu_count, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof properties / sizeof properties[0],
                                        properties));
  return exports;
}
