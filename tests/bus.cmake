# ---- bus: the Kafka implementation against strata's own broker, started
# by the test as a second process (tests/unit/bus/kafka.c), and pipelines
# of two `strata up` instances sharing a topic through a consumer group,
# one of them killed with SIGKILL (tests/integration/bus/external.sh).
strata_unit_test(bus kafka strata_bus strata_seglog strata_record strata_core)
# The embedded log's reader: every poll size from every start offset, over
# plain and compressed batches.
strata_unit_test(bus seglog strata_bus strata_seglog strata_record strata_core)
target_compile_definitions(test_bus_kafka PRIVATE STRATA_BIN="$<TARGET_FILE:strata>")
set_tests_properties(unit/bus/kafka PROPERTIES TIMEOUT 300)

add_test(NAME integration/bus/external
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/pg/with_pg.sh
    ${CMAKE_CURRENT_SOURCE_DIR}/integration/bus/external.sh $<TARGET_FILE:strata>)
set_tests_properties(integration/bus/external PROPERTIES TIMEOUT 900)
