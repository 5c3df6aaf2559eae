# The bypass native addon: plain C on Node-API (ABI-stable, so one build serves every Node
# version >= 20 and loads in worker_threads). Built by native/build.mjs on `pnpm install`.
{
  "targets": [
    {
      "target_name": "bypass_native",
      "sources": ["src/bypass_native.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
    }
  ]
}
