# ---- The dashboard (docs/dashboard.md): its routes over the embedded
# files (unit), and `strata up` serving the embedded
# web/ files, every page opened in Debian's chromium (headless, driven by
# playwright-core from tests/web) and checked against what went in through
# HTTP ingest: charts drawn, keys, anomalies, dlq entries and job runs
# listed, and live updates without a reload. Skipped (77) when chromium or
# tests/web/node_modules is missing. Also: the dashboard behind an access
# token, the token's rules over curl, `strata demo` in the browser and the
# demo's memory. Included by tests/CMakeLists.txt.
if(TARGET strata_http)
  # The routes over the generated table, against a raw-socket client.
  add_executable(test_app_web unit/app/web.c ${CMAKE_SOURCE_DIR}/src/app/web_routes.c)
  target_link_libraries(test_app_web PRIVATE strata_web_assets strata_http ${CMOCKA_LIB})
  add_test(NAME unit/app/web COMMAND test_app_web)

  add_test(NAME integration/web/dashboard
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/web/dashboard.sh $<TARGET_FILE:strata>)
  set_tests_properties(integration/web/dashboard PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
  # The same with an access token (http.token): the sign-in page first.
  add_test(NAME integration/web/dashboard_token
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/web/dashboard.sh $<TARGET_FILE:strata> --token)
  set_tests_properties(integration/web/dashboard_token PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)

  # The access token over curl: the refusal of a non-loopback listener
  # without one (exit 78), 401s, /healthz open, the sign-in cookie.
  add_test(NAME integration/web/token
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/web/token.sh $<TARGET_FILE:strata>)
  set_tests_properties(integration/web/token PROPERTIES TIMEOUT 120)
  # The gate's header decoding (http_token_check), fuzzed; the corpus is
  # replayed on every run.
  strata_fuzz_target(http_token strata_http)

  # `strata demo` in the browser: throughput on Overview within 10 s of
  # the start, stocks_ohlc_1m charted, a job run triggered from the page
  # completed; a screenshot of every page kept in test-artifacts/web-demo.
  add_test(NAME integration/web/demo
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/web/demo.sh $<TARGET_FILE:strata>
      ${CMAKE_BINARY_DIR}/test-artifacts/web-demo)
  set_tests_properties(integration/web/demo PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)

  # `strata demo` stays under 128 MiB of RSS for 60 s (the peak is
  # printed); skipped in sanitizer builds.
  if(STRATA_SANITIZE)
    set(STRATA_DEMO_MEMORY_FLAGS --sanitized)
  endif()
  add_test(NAME integration/app/demo_memory
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/app/demo_memory.sh $<TARGET_FILE:strata>
      ${STRATA_DEMO_MEMORY_FLAGS})
  set_tests_properties(integration/app/demo_memory PROPERTIES TIMEOUT 200 SKIP_RETURN_CODE 77)
endif()
