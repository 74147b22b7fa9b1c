{
  # The vxtap addon (native/): TAP and UDP batch I/O for src/io/.
  # Built by `npm ci` (the "install" script runs `node-gyp rebuild`) into
  # build/Release/vxtap.node. C++ exceptions are on (node_addon_api_except).
  "targets": [
    {
      "target_name": "vxtap",
      "sources": [
        "native/addon.cc",
        "native/coalesce.cc",
        "native/common.cc",
        "native/netlink.cc",
        "native/notify.cc",
        "native/offload.cc",
        "native/packet-capture.cc",
        "native/read-tap.cc",
        "native/read-udp.cc",
        "native/reader.cc",
        "native/stamps.cc",
        "native/tap.cc",
        "native/udp.cc",
        "native/udp-pool.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS!='linux'", {"type": "none", "sources": []}]
      ]
    }
  ]
}
