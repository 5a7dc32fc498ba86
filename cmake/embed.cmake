# cmake -DIN=file.cl -DOUT=file.c -DSYM=name -P embed.cmake
# Writes IN as a NUL-terminated const char array (hex bytes: no escaping, no
# string-literal length limit) plus its length.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," arr "${hex}")
file(WRITE "${OUT}" "/* generated from ${IN} by cmake/embed.cmake; do not edit */\n#include <stddef.h>\nextern const char ${SYM}[];\nextern const size_t ${SYM}_len;\nconst char ${SYM}[] = {${arr}0x00};\nconst size_t ${SYM}_len = ${len};\n")
