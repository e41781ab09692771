# The description loader's sources, shared by the main build and the
# standalone libFuzzer build (tests/pipelines/fuzz), which compiles only these.
set(LIVEPIPE_LOADER_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/positions.cpp
  ${CMAKE_CURRENT_LIST_DIR}/suggest.cpp
  ${CMAKE_CURRENT_LIST_DIR}/json_text.cpp
  ${CMAKE_CURRENT_LIST_DIR}/description.cpp
  ${CMAKE_CURRENT_LIST_DIR}/params.cpp
  ${CMAKE_CURRENT_LIST_DIR}/expand.cpp
  ${CMAKE_CURRENT_LIST_DIR}/values.cpp
  ${CMAKE_CURRENT_LIST_DIR}/check.cpp
  ${CMAKE_CURRENT_LIST_DIR}/build.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pipeline.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pads.cpp
  ${CMAKE_CURRENT_LIST_DIR}/slot.cpp
  ${CMAKE_CURRENT_LIST_DIR}/loader.cpp)
