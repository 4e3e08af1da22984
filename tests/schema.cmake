# The schema module's tests (included from tests/CMakeLists.txt).
foreach(t build time decode text ordered pattern)
  strata_unit_test(schema ${t} strata_schema)
endforeach()
# Differential test of schema decoding against jansson.
strata_unit_test(schema json_diff strata_schema ${JANSSON_LIB})
strata_fuzz_target(schema_decode strata_schema ${JANSSON_LIB})
