# ---- lake: the Parquet writer (src/lake/). Unit tests of the Thrift
# compact encoder, the encodings and the writer's contract; the writer's
# fuzz target; and round trips through two independent readers, DuckDB and
# hyparquet (tests/node), which compare every value, the statistics, the
# schema and the layout of each file.
if(TARGET strata_lake)
  foreach(t thrift encode writer)
    strata_unit_test(lake ${t} strata_lake)
  endforeach()
  strata_fuzz_target(lake_writer strata_lake)

  add_executable(test_lake_files integration/lake/write_files.c)
  target_link_libraries(test_lake_files PRIVATE strata_lake m)
  set(STRATA_LAKE_IT ${CMAKE_CURRENT_SOURCE_DIR}/integration/lake)
  foreach(reader duckdb hyparquet)
    add_test(NAME integration/lake/${reader}
      COMMAND ${STRATA_LAKE_IT}/roundtrip.sh ${reader} $<TARGET_FILE:test_lake_files>)
    set_tests_properties(integration/lake/${reader} PROPERTIES TIMEOUT 600)
  endforeach()
endif()
# ---- end of the lake block.
# ---- lake: uploads to S3 (src/lake/sigv4.c, s3.c, s3_upload.c). Unit tests
# of SigV4 against AWS's published examples and of the client's checks; a
# fuzz target for what the uploader decodes; and, against s3rver (npm,
# tests/node) behind a gateway that checks every SigV4 signature and
# payload hash (s3_server.mjs), the client on its own (s3_put) and `strata
# up` archiving into a bucket, with a refused wrong secret, an endpoint
# down then up, and a restart after kill -9 (s3_archive).
if(TARGET strata_lake)
  strata_unit_test(lake sigv4 strata_lake)
  strata_unit_test(lake s3 strata_lake)
  strata_fuzz_target(lake_s3_error strata_lake)

  add_executable(test_lake_s3_put integration/lake/s3_put.c)
  target_link_libraries(test_lake_s3_put PRIVATE strata_lake)
  set(STRATA_LAKE_S3_IT ${CMAKE_CURRENT_SOURCE_DIR}/integration/lake)
  add_test(NAME integration/lake/s3_put
    COMMAND ${STRATA_LAKE_S3_IT}/s3_put.sh $<TARGET_FILE:test_lake_s3_put>)
  add_test(NAME integration/lake/s3_archive
    COMMAND ${STRATA_LAKE_S3_IT}/s3_archive.sh $<TARGET_FILE:strata>)
  set_tests_properties(integration/lake/s3_put integration/lake/s3_archive
    PROPERTIES TIMEOUT 600)
endif()
# ---- end of the S3 upload block.
# ---- lake: the Parquet reader (src/lake/reader.c, reader_page.c,
# thrift_read.c) and the scan of an archive's partition (scan.c). Unit
# tests of round trips through the writer, of what it refuses and of the
# scan's merge; the reader's fuzz target; and files written by DuckDB
# (zstd, snappy, dictionary and plain pages) that the reader must read
# with the same values (tests/integration/lake/reader.sh); and a recompute
# job reading the offsets retention removed from the log from the lake.
if(TARGET strata_lake)
  foreach(t reader scan)
    strata_unit_test(lake ${t} strata_lake)
  endforeach()
  strata_fuzz_target(lake_reader strata_lake)

  add_executable(test_lake_dump integration/lake/dump_parquet.c)
  target_link_libraries(test_lake_dump PRIVATE strata_lake m)
  add_test(NAME integration/lake/reader_duckdb
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/lake/reader.sh
      $<TARGET_FILE:test_lake_dump>)
  set_tests_properties(integration/lake/reader_duckdb PROPERTIES TIMEOUT 600)

  # Recompute from the lake (src/batch/recompute.c): the log's early hours
  # deleted by retention, the views still equal DuckDB over every event.
  add_test(NAME integration/batch/lake_recompute_sqlite
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/batch/lake_recompute.sh
      $<TARGET_FILE:strata> sqlite)
  add_test(NAME integration/batch/lake_recompute_postgres
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/pg/with_pg.sh
      ${CMAKE_CURRENT_SOURCE_DIR}/integration/batch/lake_recompute.sh $<TARGET_FILE:strata> postgres)
  set_tests_properties(integration/batch/lake_recompute_sqlite
    integration/batch/lake_recompute_postgres PROPERTIES TIMEOUT 900)
endif()
# ---- end of the reader block.
