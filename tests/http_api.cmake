# ---- The serving API and Prometheus metrics (docs/api.md, docs/metrics.md):
# the Prometheus text writer and the OpenAPI page and check (unit, http/),
# the API's routes against its OpenAPI document and the __consumer_offsets
# decoder (unit and fuzz, app/), and `strata up` serving every endpoint to
# Python's urllib with /metrics checked by promtool (integration).
# Included by tests/CMakeLists.txt.
if(TARGET strata_http AND TARGET strata_batch)
  strata_unit_test(http prom strata_http m)
  strata_unit_test(http docs strata_http)

  # app/'s API files are compiled into their tests directly (app/ is an
  # executable, not a library).
  file(GLOB STRATA_APP_API_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/app/api*.c
    ${CMAKE_SOURCE_DIR}/src/app/metrics_*.c)
  set(STRATA_APP_API_LIBS strata_openapi strata_http strata_batch strata_lake strata_stream strata_bus
    strata_store strata_schema strata_kafka strata_seglog strata_record strata_core m)
  add_executable(test_app_api unit/app/api.c ${STRATA_APP_API_SOURCES})
  target_link_libraries(test_app_api PRIVATE ${STRATA_APP_API_LIBS} ${CMOCKA_LIB})
  add_test(NAME unit/app/api COMMAND test_app_api)

  strata_fuzz_target(app_group_offsets ${STRATA_APP_API_LIBS})
  target_sources(fuzz_replay_app_group_offsets PRIVATE ${STRATA_APP_API_SOURCES})
  if(STRATA_FUZZ)
    target_sources(fuzz_app_group_offsets PRIVATE ${STRATA_APP_API_SOURCES})
  endif()

  add_test(NAME integration/http/api
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/http/api.sh $<TARGET_FILE:strata>)
  set_tests_properties(integration/http/api PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77)
endif()
