# Installation and the CMake package: `cmake --install build --prefix P` puts the binary in
# P/bin, the capability YAMLs in P/share/qtune/capabilities, the public headers under
# P/include/qtune (folder paths kept: #include "common/status.h"), the static libraries in
# P/lib and qtuneConfig.cmake in P/lib/cmake/qtune, so that find_package(qtune) gives
# qtune::qtune. Components: `runtime` (binary, YAMLs) and `development` (the rest).
# Included once, at the end of the top-level CMakeLists.txt, after every target exists.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(QTUNE_LIBRARIES qtune_common qtune_kernels qtune_runtime qtune_adaptors qtune_worker
                    qtune_coordinator)
set(QTUNE_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/qtune)
set(QTUNE_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/qtune)

# The libraries name the source tree as their include directory; in the installed tree,
# install(TARGETS ... INCLUDES DESTINATION) below names include/qtune instead.
foreach(lib IN LISTS QTUNE_LIBRARIES)
  get_target_property(dirs ${lib} INTERFACE_INCLUDE_DIRECTORIES)
  if(NOT dirs)
    continue()
  endif()
  set(mapped "")
  foreach(dir IN LISTS dirs)
    if(dir MATCHES "^(${CMAKE_SOURCE_DIR}|${CMAKE_BINARY_DIR})")
      list(APPEND mapped "$<BUILD_INTERFACE:${dir}>")
    else()
      list(APPEND mapped "${dir}")
    endif()
  endforeach()
  set_target_properties(${lib} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${mapped}")
endforeach()

# qtune::qtune: every library, and the language level their headers are written in.
add_library(qtune_package INTERFACE)
set_target_properties(qtune_package PROPERTIES EXPORT_NAME qtune)
target_link_libraries(qtune_package INTERFACE ${QTUNE_LIBRARIES})
target_compile_features(qtune_package INTERFACE cxx_std_20)
add_library(qtune::qtune ALIAS qtune_package)

# The packages a consumer must find for the imported targets the libraries link (private ones
# too: a static library's private dependencies are the consumer's link dependencies).
set(QTUNE_PACKAGE_OF_onnx "ONNX")
set(QTUNE_PACKAGE_OF_onnx_proto "ONNX")
set(QTUNE_PACKAGE_OF_protobuf "Protobuf")
set(QTUNE_PACKAGE_OF_yaml-cpp "yaml-cpp")
set(QTUNE_PACKAGE_OF_ZLIB "ZLIB")
set(QTUNE_PACKAGE_OF_JPEG "JPEG")
set(QTUNE_PACKAGE_OF_PNG "PNG")
set(QTUNE_PACKAGE_OF_TBB "TBB")
set(QTUNE_PACKAGE_OF_Threads "Threads")
set(QTUNE_PACKAGE_OF_DNNL "dnnl")
set(QTUNE_PACKAGE_OF_dnnl "dnnl")
set(QTUNE_PACKAGE_OF_cppzmq "cppzmq")
set(QTUNE_PACKAGE_OF_msgpackc-cxx "msgpack CONFIG")
set(QTUNE_DEPENDENCIES "")
foreach(lib IN LISTS QTUNE_LIBRARIES)
  get_target_property(linked ${lib} LINK_LIBRARIES)
  get_target_property(interface ${lib} INTERFACE_LINK_LIBRARIES)
  foreach(dep IN LISTS linked interface)
    string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" dep "${dep}")
    if(NOT TARGET "${dep}" OR dep IN_LIST QTUNE_LIBRARIES)
      continue()
    endif()
    string(REGEX REPLACE "::.*$" "" key "${dep}")
    if(NOT DEFINED "QTUNE_PACKAGE_OF_${key}")
      message(WARNING "cmake/install.cmake: ${lib} links ${dep}, whose package find_package(qtune) "
                      "does not look for; add it to the QTUNE_PACKAGE_OF_ table")
      continue()
    endif()
    list(APPEND QTUNE_DEPENDENCIES "${QTUNE_PACKAGE_OF_${key}}")
  endforeach()
endforeach()
list(REMOVE_DUPLICATES QTUNE_DEPENDENCIES)
set(QTUNE_FIND_DEPENDENCIES "")
foreach(pkg IN LISTS QTUNE_DEPENDENCIES)
  string(APPEND QTUNE_FIND_DEPENDENCIES "find_dependency(${pkg})\n")
endforeach()

install(TARGETS qtune RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/capabilities/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/qtune/capabilities COMPONENT runtime
        FILES_MATCHING PATTERN "*.yaml")
install(DIRECTORY ${CMAKE_SOURCE_DIR}/common ${CMAKE_SOURCE_DIR}/kernels ${CMAKE_SOURCE_DIR}/runtime
                  ${CMAKE_SOURCE_DIR}/adaptors ${CMAKE_SOURCE_DIR}/coordinator ${CMAKE_SOURCE_DIR}/worker
        DESTINATION ${QTUNE_INSTALL_INCLUDEDIR} COMPONENT development
        FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")
install(TARGETS ${QTUNE_LIBRARIES} qtune_package EXPORT qtuneTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
        INCLUDES DESTINATION ${QTUNE_INSTALL_INCLUDEDIR})
install(EXPORT qtuneTargets NAMESPACE qtune:: DESTINATION ${QTUNE_INSTALL_CMAKEDIR}
        COMPONENT development)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/qtuneConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/cmake/qtuneConfig.cmake
                              INSTALL_DESTINATION ${QTUNE_INSTALL_CMAKEDIR}
                              PATH_VARS CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/qtuneConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/qtuneConfig.cmake ${CMAKE_BINARY_DIR}/cmake/qtuneConfigVersion.cmake
        DESTINATION ${QTUNE_INSTALL_CMAKEDIR} COMPONENT development)
