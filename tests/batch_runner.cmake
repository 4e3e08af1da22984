# ---- batch: the job runner (run.c, runner.c) with sql jobs on SQLite.
strata_unit_test(batch runner strata_batch)

# kill -9 of `strata up` while a job runs: failed, retried, exactly once.
add_test(NAME integration/batch/jobs_crash
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/batch/jobs_crash.sh $<TARGET_FILE:strata>)

# Export (CSV, Parquet; views and tables) read back by DuckDB, and retention.
add_test(NAME integration/batch/export
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/batch/export.sh $<TARGET_FILE:strata>)
