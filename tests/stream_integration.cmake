# ---- The speed layer end to end, with the strata binary: `strata up` over
# the example config (SQLite and PostgreSQL), every view row compared with
# DuckDB's recomputation, and exactly-once under kill -9 (and, for
# PostgreSQL, `pg_ctl stop -m immediate`) over 20 restart cycles.
set(STRATA_STREAM_IT ${CMAKE_CURRENT_SOURCE_DIR}/integration/stream)
set(STRATA_WITH_PG ${CMAKE_CURRENT_SOURCE_DIR}/integration/pg/with_pg.sh)
add_test(NAME integration/stream/up_sqlite COMMAND ${STRATA_STREAM_IT}/up.sh $<TARGET_FILE:strata>)
add_test(NAME integration/stream/up_postgres
  COMMAND ${STRATA_WITH_PG} ${STRATA_STREAM_IT}/up.sh $<TARGET_FILE:strata>)
add_test(NAME integration/stream/oracle COMMAND ${STRATA_STREAM_IT}/oracle.sh $<TARGET_FILE:strata>)
add_test(NAME integration/stream/crash_sqlite
  COMMAND ${STRATA_STREAM_IT}/crash.sh $<TARGET_FILE:strata> sqlite 20)
add_test(NAME integration/stream/crash_postgres
  COMMAND ${STRATA_WITH_PG} ${STRATA_STREAM_IT}/crash.sh $<TARGET_FILE:strata> postgres 20)
set_tests_properties(integration/stream/up_sqlite integration/stream/up_postgres
  integration/stream/oracle integration/stream/crash_sqlite integration/stream/crash_postgres
  PROPERTIES TIMEOUT 900)
