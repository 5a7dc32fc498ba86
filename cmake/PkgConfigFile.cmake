# Generates ptool.pc. A static library lists its dependencies in Libs so that
# `pkg-config --libs ptool` alone links; a shared one moves them to Libs.private.
set(PT_PC_DEPS "-lpng -lz -lpthread -lm")
if(PT_HAVE_OPENMP)
  string(APPEND PT_PC_DEPS " ${OpenMP_C_FLAGS}")
endif()
if(PT_HAVE_OPENCL)
  string(APPEND PT_PC_DEPS " -lOpenCL")
endif()
if(BUILD_SHARED_LIBS)
  set(PT_PC_LIBS "-L\${libdir} -lptool")
  set(PT_PC_LIBS_PRIVATE "${PT_PC_DEPS}")
else()
  set(PT_PC_LIBS "-L\${libdir} -lptool ${PT_PC_DEPS}")
  set(PT_PC_LIBS_PRIVATE "")
endif()
file(RELATIVE_PATH PT_PC_UP ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" PT_PC_UP "${PT_PC_UP}")
file(WRITE ${PROJECT_BINARY_DIR}/ptool.pc.gen
"prefix=\${pcfiledir}/${PT_PC_UP}
exec_prefix=\${prefix}
libdir=\${prefix}/${CMAKE_INSTALL_LIBDIR}
includedir=\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}

Name: ptool
Description: ptool compute library: jobs on serial, threads, processes, OpenMP and OpenCL backends
Version: ${PROJECT_VERSION}
Cflags: -I\${includedir}
Libs: ${PT_PC_LIBS}
Libs.private: ${PT_PC_LIBS_PRIVATE}
")
configure_file(${PROJECT_BINARY_DIR}/ptool.pc.gen ${PROJECT_BINARY_DIR}/ptool.pc COPYONLY)

# ptool-io.pc: the IO front end (libptool_io), on top of ptool.pc.
if(PT_HAVE_IO)
  if(BUILD_SHARED_LIBS)
    set(PT_IO_PC_LIBS "-L\${libdir} -lptool_io")
    set(PT_IO_PC_PRIVATE "-lhttp_parser")
    set(PT_IO_PC_REQ_PRIVATE "jansson libxml-2.0 libcrypto")
    set(PT_IO_PC_REQ "ptool libuv libcurl")
  else()
    set(PT_IO_PC_LIBS "-L\${libdir} -lptool_io -lhttp_parser")
    set(PT_IO_PC_PRIVATE "")
    set(PT_IO_PC_REQ_PRIVATE "")
    set(PT_IO_PC_REQ "ptool libuv libcurl jansson libxml-2.0 libcrypto")
  endif()
  file(WRITE ${PROJECT_BINARY_DIR}/ptool-io.pc.gen
"prefix=\${pcfiledir}/${PT_PC_UP}
exec_prefix=\${prefix}
libdir=\${prefix}/${CMAKE_INSTALL_LIBDIR}
includedir=\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}

Name: ptool-io
Description: ptool's async IO front end: HTTP fetcher, file hashing, crawler, HTTP server on libuv
Version: ${PROJECT_VERSION}
Requires: ${PT_IO_PC_REQ}
Requires.private: ${PT_IO_PC_REQ_PRIVATE}
Cflags: -I\${includedir}
Libs: ${PT_IO_PC_LIBS}
Libs.private: ${PT_IO_PC_PRIVATE}
")
  configure_file(${PROJECT_BINARY_DIR}/ptool-io.pc.gen ${PROJECT_BINARY_DIR}/ptool-io.pc COPYONLY)
endif()
