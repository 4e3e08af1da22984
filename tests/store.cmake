# The serving store (src/store): one behaviour suite run on both backends,
# and a connection-loss test against a real PostgreSQL that is crashed and
# restarted. PostgreSQL tests start a throwaway cluster with
# integration/pg/with_pg.sh (initdb + pg_ctl on a free loopback port; as the
# postgres user when run as root) and always remove it.

add_executable(test_store_suite unit/store/suite.c)
target_link_libraries(test_store_suite PRIVATE strata_store ${CMOCKA_LIB})
add_test(NAME unit/store/suite_sqlite COMMAND test_store_suite)

set(STRATA_WITH_PG ${CMAKE_CURRENT_SOURCE_DIR}/integration/pg/with_pg.sh)
add_test(NAME integration/store/suite_postgres
  COMMAND ${STRATA_WITH_PG} sh -c "exec \"$0\" \"$STRATA_TEST_PG_URL\""
    $<TARGET_FILE:test_store_suite>)

add_executable(test_store_pg_loss unit/store/pg_loss.c)
target_link_libraries(test_store_pg_loss PRIVATE strata_store ${CMOCKA_LIB})
add_test(NAME integration/store/pg_loss COMMAND ${STRATA_WITH_PG} $<TARGET_FILE:test_store_pg_loss>)

set_tests_properties(integration/store/suite_postgres integration/store/pg_loss
  PROPERTIES TIMEOUT 600)
