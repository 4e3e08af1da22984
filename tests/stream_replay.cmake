# ---- stream: Kappa replay (stream_replay, src/stream/replay.c; docs/replay.md):
# the unit tests over a seglog topic and a SQLite store, and `strata replay`
# end to end with `strata up` running, ingest going on and a concurrent
# query loop, on SQLite and on PostgreSQL.
if(TARGET strata_stream)
  strata_unit_test(stream replay strata_stream strata_seglog)
endif()

set(STRATA_REPLAY_IT ${CMAKE_CURRENT_SOURCE_DIR}/integration/batch/replay.sh)
add_test(NAME integration/batch/replay_sqlite COMMAND ${STRATA_REPLAY_IT} $<TARGET_FILE:strata> sqlite)
add_test(NAME integration/batch/replay_postgres
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/pg/with_pg.sh ${STRATA_REPLAY_IT}
  $<TARGET_FILE:strata> postgres)
set_tests_properties(integration/batch/replay_sqlite integration/batch/replay_postgres
  PROPERTIES TIMEOUT 900)
