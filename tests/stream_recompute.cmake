# ---- stream: the batch layer's recompute (stream_recompute in
# src/stream/recompute.c) over a seglog topic and a SQLite store, and the
# Lambda merge end to end: speed pipelines, a recompute job, and every
# merged view row compared with DuckDB over all events, late ones included.
if(TARGET strata_stream)
  strata_unit_test(stream recompute strata_stream strata_seglog)
endif()

set(STRATA_BATCH_IT ${CMAKE_CURRENT_SOURCE_DIR}/integration/batch)
add_test(NAME integration/batch/lambda_sqlite
  COMMAND ${STRATA_BATCH_IT}/lambda.sh $<TARGET_FILE:strata> sqlite)
add_test(NAME integration/batch/lambda_postgres
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/pg/with_pg.sh ${STRATA_BATCH_IT}/lambda.sh
  $<TARGET_FILE:strata> postgres)
set_tests_properties(integration/batch/lambda_sqlite integration/batch/lambda_postgres
  PROPERTIES TIMEOUT 900)
