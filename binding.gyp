{
  "targets": [
    {
      "target_name": "filterdb_scan",
      "sources": ["native/scan_reader.c"],
      "variables": {
        "duckdb_dir": "<(module_root_dir)/node_modules/@duckdb/node-bindings-<(OS)-<(target_arch)"
      },
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-L<(duckdb_dir)", "-lduckdb", "-Wl,-rpath,<(duckdb_dir)"]
    }
  ]
}
