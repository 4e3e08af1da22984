# Tests of gen/: the simulators (unit), the rate schedule (unit, simulated
# clock), gen_run into a seglog (unit), the JSON writer's formatting
# (unit), `strata gen` feeding `strata up --once` over the example configs
# and `strata gen --broker` into `strata broker` (integration); the config's `generators`
# section (unit) and `strata up` running them (integration). Included by
# tests/CMakeLists.txt.

if(TARGET strata_gen)
  strata_unit_test(gen gen strata_gen strata_schema strata_core m)
  strata_unit_test(gen schedule strata_gen strata_core m)
  strata_unit_test(gen rng strata_gen strata_core m)
  strata_unit_test(gen run strata_gen strata_bus strata_seglog strata_core)

  set(STRATA_GEN_IT ${CMAKE_CURRENT_SOURCE_DIR}/integration/gen)
  add_test(NAME integration/gen/stocks
    COMMAND ${STRATA_GEN_IT}/examples.sh $<TARGET_FILE:strata> stocks)
  add_test(NAME integration/gen/transactions
    COMMAND ${STRATA_GEN_IT}/examples.sh $<TARGET_FILE:strata> transactions)
  add_test(NAME integration/gen/events
    COMMAND ${STRATA_GEN_IT}/examples.sh $<TARGET_FILE:strata> events)
  add_test(NAME integration/gen/cli COMMAND ${STRATA_GEN_IT}/cli.sh $<TARGET_FILE:strata>)
  set_tests_properties(integration/gen/stocks integration/gen/transactions
    integration/gen/events integration/gen/cli PROPERTIES TIMEOUT 600)
  # `strata gen --broker kafka://...` into a `strata broker`, read back with
  # kcat and from the broker's data directory.
  add_test(NAME integration/gen/broker
    COMMAND ${STRATA_GEN_IT}/broker.sh $<TARGET_FILE:strata>)
  set_tests_properties(integration/gen/broker PROPERTIES TIMEOUT 300)
  # The record writer's number and time formatting against core's.
  strata_unit_test(gen json strata_gen strata_schema strata_core m)

  # The generators section: parsing, checks, and its kinds against gen/.
  strata_unit_test(app gen_config strata_gen strata_schema strata_core ${YAML_LIB} m)
  target_sources(test_app_gen_config PRIVATE ${STRATA_APP_CONFIG_SOURCES}
    ${STRATA_APP_CONFIG_GEN})
  # `strata up` running a config's generators into a table pipeline.
  add_test(NAME integration/gen/up COMMAND ${STRATA_GEN_IT}/up.sh $<TARGET_FILE:strata>)
  set_tests_properties(integration/gen/up PROPERTIES TIMEOUT 300)
endif()
