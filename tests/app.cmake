# Tests of app/: the config loader (unit, fuzz) and `strata check` (the
# built binary on fixture files). Included by tests/CMakeLists.txt.

set(STRATA_APP_CONFIG_SOURCES ${CMAKE_SOURCE_DIR}/src/app/config.c
  ${CMAKE_SOURCE_DIR}/src/app/config_keys.c ${CMAKE_SOURCE_DIR}/src/app/config_refs.c
  ${CMAKE_SOURCE_DIR}/src/app/config_jobs.c ${CMAKE_SOURCE_DIR}/src/app/config_gen.c
  ${CMAKE_SOURCE_DIR}/src/batch/cron.c
  ${CMAKE_SOURCE_DIR}/src/batch/tz.c)

# The loader is compiled into its tests directly: they need neither the
# strata executable nor the modules it links.
add_executable(test_app_config unit/app/config.c ${STRATA_APP_CONFIG_SOURCES})
target_link_libraries(test_app_config PRIVATE strata_schema strata_core ${YAML_LIB} m ${CMOCKA_LIB})
target_compile_definitions(test_app_config PRIVATE
  APP_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/unit/app/fixtures")
add_test(NAME unit/app/config COMMAND test_app_config)
# The config's s3 section and archives' `upload` key.
add_executable(test_app_config_s3 unit/app/config_s3.c ${STRATA_APP_CONFIG_SOURCES})
target_link_libraries(test_app_config_s3 PRIVATE strata_schema strata_core ${YAML_LIB} m
  ${CMOCKA_LIB})
add_test(NAME unit/app/config_s3 COMMAND test_app_config_s3)

strata_fuzz_target(app_config strata_schema strata_core ${YAML_LIB} m)
target_sources(fuzz_replay_app_config PRIVATE ${STRATA_APP_CONFIG_SOURCES})
if(STRATA_FUZZ)
  target_sources(fuzz_app_config PRIVATE ${STRATA_APP_CONFIG_SOURCES})
endif()

# `strata check` on the fixtures, and docs/config.md against --print-keys.
add_test(NAME integration/app_check
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/unit/app/check_cli.sh $<TARGET_FILE:strata>
    ${CMAKE_CURRENT_SOURCE_DIR}/unit/app/fixtures ${CMAKE_SOURCE_DIR}/docs/config.md)

# `strata demo`: the built-in config and the whole platform started from it.
add_test(NAME integration/app/demo
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/app/demo.sh $<TARGET_FILE:strata>)
