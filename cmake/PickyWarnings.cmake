# Compiler warnings for every ptool target, in one place (curl's PickyWarnings).
# PT_WERROR turns them into errors (ON in CI).
set(PT_WARNING_FLAGS
  -Wall -Wextra -Wpedantic
  -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition
  -Wshadow -Wpointer-arith -Wcast-qual -Wwrite-strings
  -Wformat=2 -Wundef -Wvla -Wnull-dereference)
if(PT_WERROR)
  list(APPEND PT_WARNING_FLAGS -Werror)
endif()

# pt_target_warnings(target): apply the warning set to target's own sources.
function(pt_target_warnings target)
  target_compile_options(${target} PRIVATE ${PT_WARNING_FLAGS})
endfunction()
