# ---- batch: the job runner (run.c, runner.c) with sql jobs, on SQLite and
# on a throwaway PostgreSQL (where claims and recovery really race).
strata_unit_test(batch runner strata_batch)
add_test(NAME integration/batch/runner_postgres
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/pg/with_pg.sh
    sh -c "exec \"$0\" \"$STRATA_TEST_PG_URL\"" $<TARGET_FILE:test_batch_runner>)
set_tests_properties(integration/batch/runner_postgres PROPERTIES TIMEOUT 600)

# kill -9 of `strata up` while a job runs: failed, retried, exactly once.
add_test(NAME integration/batch/jobs_crash
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/batch/jobs_crash.sh $<TARGET_FILE:strata>)

# Export (CSV, Parquet; views and tables) read back by DuckDB, and retention.
add_test(NAME integration/batch/export
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/batch/export.sh $<TARGET_FILE:strata>)
