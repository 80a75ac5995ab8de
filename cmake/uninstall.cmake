# cmake -DMANIFEST=BUILD/install_manifest.txt -P cmake/uninstall.cmake
#
# Removes exactly the files that the last install wrote, as listed in its
# manifest, below $DESTDIR when that is set (the manifest holds the paths
# without it), as GNU `make uninstall` honours DESTDIR. Directories are left
# alone, as GNU programs leave them.
if(NOT DEFINED MANIFEST OR NOT EXISTS "${MANIFEST}")
    message(FATAL_ERROR "uninstall: no ${MANIFEST}: nothing was installed from this build "
                        "directory (or its manifest is gone)")
endif()
file(STRINGS "${MANIFEST}" listed)
set(destdir "$ENV{DESTDIR}")
string(REGEX REPLACE "/+$" "" destdir "${destdir}")
set(files "")
foreach(f IN LISTS listed)
    list(APPEND files "${destdir}${f}")
endforeach()
set(removed 0)
foreach(f IN LISTS files)
    if(IS_SYMLINK "${f}" OR EXISTS "${f}")
        message(STATUS "Removing ${f}")
        file(REMOVE "${f}")
        if(IS_SYMLINK "${f}" OR EXISTS "${f}")
            message(FATAL_ERROR "uninstall: cannot remove ${f}")
        endif()
        math(EXPR removed "${removed} + 1")
    else()
        message(STATUS "Already gone: ${f}")
    endif()
endforeach()
list(LENGTH files total)
message(STATUS "uninstall: removed ${removed} of the ${total} files installed")
