# ---- The dashboard (docs/dashboard.md): its routes over the embedded
# files (unit), and `strata up` serving the embedded
# web/ files, every page opened in Debian's chromium (headless, driven by
# playwright-core from tests/web) and checked against what went in through
# HTTP ingest: charts drawn, keys, anomalies, dlq entries and job runs
# listed, and live updates without a reload. Skipped (77) when chromium or
# tests/web/node_modules is missing. Included by tests/CMakeLists.txt.
if(TARGET strata_http)
  # The routes over the generated table, against a raw-socket client.
  add_executable(test_app_web unit/app/web.c ${CMAKE_SOURCE_DIR}/src/app/web_routes.c)
  target_link_libraries(test_app_web PRIVATE strata_web_assets strata_http ${CMOCKA_LIB})
  add_test(NAME unit/app/web COMMAND test_app_web)

  add_test(NAME integration/web/dashboard
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/web/dashboard.sh $<TARGET_FILE:strata>)
  set_tests_properties(integration/web/dashboard PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
endif()
