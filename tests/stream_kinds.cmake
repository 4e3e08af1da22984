# ---- stream: the detect and cdc kinds (kind_detect.c, kind_cdc.c), run as
# real pipelines over a seglog topic and a SQLite store, and the cdc kind's
# fuzz target (one record value through its process()).
if(TARGET strata_stream)
  foreach(t detect cdc runtime)
    strata_unit_test(stream ${t} strata_stream strata_seglog)
  endforeach()
  strata_fuzz_target(stream_cdc strata_stream)
endif()
