# ---- http: the server (routing, caps, answers) against a raw-socket client,
# the record-body splitter (unit and fuzz), and HTTP ingest end to end
# through `strata up` (POST /topics/{topic}/records with Python's urllib).
# Included by tests/CMakeLists.txt.
if(TARGET strata_http)
  strata_unit_test(http server strata_http)
  strata_unit_test(http body strata_http)
  strata_fuzz_target(http_body strata_http)

  add_test(NAME integration/http/ingest
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/http/ingest.sh $<TARGET_FILE:strata>)
  set_tests_properties(integration/http/ingest PROPERTIES TIMEOUT 300)
endif()
